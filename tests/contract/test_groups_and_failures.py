"""Group policies, retries, errors and the checks made before anything runs."""

from __future__ import annotations

import pytest

from graflow_celery import (
    AtLeastNGroupPolicy,
    CriticalGroupPolicy,
    DuplicateTaskError,
    GraphDefinitionError,
    ParallelGroup,
    ParallelGroupError,
    TaskError,
    TaskWrapper,
    workflow,
)
from tests.contract import flows


def test_strict_group_fails_listing_failed_and_successful_members(runner):
    with pytest.raises(ParallelGroupError) as info:
        runner.execute(flows.policy_flow("strict"))
    err = info.value
    assert err.group_id == "grp"
    assert dict(err.failed_tasks).keys() == {"bad_task", "worse_task"}
    assert "ValueError: bad input" in dict(err.failed_tasks)["bad_task"]
    assert err.successful_tasks == ["ok_task"]


def test_best_effort_group_continues(runner):
    _, ctx = runner.execute(flows.policy_flow("best_effort"))
    assert ctx.get_channel().get("log") == ["after"]
    assert ctx.get_result("grp") == {"ok_task": "ok", "bad_task": None, "worse_task": None}


@pytest.mark.parametrize(("n", "passes"), [(1, True), (2, False)])
def test_at_least_n_policy(runner, n, passes):
    if passes:
        runner.execute(flows.at_least(n))
    else:
        with pytest.raises(ParallelGroupError, match="1 succeeded, 2 needed"):
            runner.execute(flows.at_least(n))


def test_critical_policy(runner):
    runner.execute(flows.critical(["ok_task"]))
    with pytest.raises(ParallelGroupError) as info:
        runner.execute(flows.critical(["ok_task", "bad_task"]))
    assert "bad_task" in str(info.value)


def test_user_policy_subclass(runner):
    _, ctx = runner.execute(flows.policy_flow(flows.OnlyOkMustSucceed()))
    assert ctx.get_channel().get("log") == ["after"]
    with pytest.raises(ParallelGroupError, match="ok_task did not succeed"):
        runner.execute(flows.policy_flow(flows.OnlyOkMustSucceed(), [flows.bad_task, flows.worse_task]))


def test_retries_until_success_and_exposes_retry_count(runner):
    result, ctx = runner.execute(flows.single(flows.flaky))
    assert result == "succeeded on attempt 3"
    assert ctx.get_channel().get("retry_counts") == [0, 1, 2]


def test_exhausted_retries_fail_with_the_original_error_as_cause(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.single(flows.hopeless))
    err = info.value
    assert err.task_id == "hopeless"
    assert err.error_type == "ConnectionError"
    assert err.__cause__ is not None and "still down" in str(err.__cause__)
    context, _ = runner.run_context(flows.single(flows.hopeless))
    assert context.get_channel().get("attempts") == 3  # first try + 2 retries


def test_task_failure_outside_a_group_fails_the_run(runner):
    with pytest.raises(TaskError, match="bad input"):
        runner.execute(flows.single(flows.bad_task))


def test_a_result_that_cannot_be_serialized_fails_on_every_portable_backend(runner):
    if not runner.portable:  # in process, the object itself is the result
        assert type(runner.execute(flows.single(flows.unserializable))[0]) is object
        return
    with pytest.raises(TaskError, match="cannot serialize"):
        runner.execute(flows.single(flows.unserializable))


# --- checks before anything runs ----------------------------------------------------------------


def test_duplicate_ids_are_refused():
    with pytest.raises(DuplicateTaskError, match="'same'"), workflow("dup"):
        TaskWrapper("same", flows.other_finish) >> TaskWrapper("same", flows.other_finish)


def test_unknown_start_node(runner):
    with pytest.raises(GraphDefinitionError, match="start node 'nope' is not in the workflow"):
        runner.execute(flows.pipeline(), start_node="nope")


def test_several_roots_need_a_start_node(runner):
    with workflow("two roots") as wf:
        flows.load >> flows.double
        wf.add(flows.ok_task)
    with pytest.raises(GraphDefinitionError, match="several start nodes"):
        runner.execute(wf)


def test_empty_group_is_refused():
    with pytest.raises(GraphDefinitionError, match="no members"), workflow("empty"):
        ParallelGroup([], name="nothing")


def test_at_least_n_larger_than_the_group_is_refused(runner):
    with pytest.raises(GraphDefinitionError, match="has 3 members but its policy needs at least 4"):
        runner.execute(flows.policy_flow(AtLeastNGroupPolicy(4)))


def test_critical_id_not_in_the_group_is_refused(runner):
    with pytest.raises(GraphDefinitionError, match=r"critical tasks \['ghost'\] that are not members"):
        runner.execute(flows.policy_flow(CriticalGroupPolicy(["ghost"])))


def test_unknown_policy_name_is_refused():
    with pytest.raises(GraphDefinitionError, match="unknown group policy 'sometimes'"), workflow("p"):
        (flows.ok_task | flows.bad_task).with_execution(policy="sometimes")


def test_a_policy_that_raises_fails_its_group_saying_so(runner):
    with pytest.raises(ParallelGroupError, match="the policy itself raised RuntimeError: policy bug"):
        runner.execute(flows.policy_flow(flows.BrokenPolicy()))
