"""graflow's documented behaviour, on every backend: loops and their limits, channel locks and
errors, results as ``<task id>.__result__`` channel keys, policies written for graflow,
``with_execution(backend=...)``, and task instances made by calling a task."""

from __future__ import annotations

import re

import pytest

from graflow_celery import (
    AtLeastNGroupPolicy,
    BestEffortGroupPolicy,
    CoordinationBackend,
    CycleLimitExceededError,
    GraphDefinitionError,
    GroupExecutionPolicy,
    GroupPolicy,
    MemberOutcome,
    ParallelGroupError,
    StrictGroupPolicy,
    TaskExecutionContext,
    TaskResult,
    TaskWrapper,
    parallel,
    task,
    workflow,
)
from graflow_celery.core.context import DEFAULT_MAX_CYCLES
from tests.contract import flows
from tests.contract import graflow_flows as gf

# --- loops: next_iteration, cycle_count, max_cycles ------------------------------------------------


def test_next_iteration_without_data_calls_the_task_without_an_extra_argument(runner):
    result, ctx = runner.execute(gf.no_data_loop())
    assert result == 3
    assert ctx.get_channel().get("runs") == 3


def test_cycle_count_starts_at_1_and_max_cycles_n_allows_n_runs(runner):
    result, ctx = runner.execute(gf.single(gf.three_at_most))
    assert ctx.get_channel().get("seen") == [[1, 3, True, 0], [2, 3, True, 1], [3, 3, False, 2]]
    assert result == 2


def test_the_default_max_cycles_is_10(runner):
    assert DEFAULT_MAX_CYCLES == 10
    result, ctx = runner.execute(gf.single(gf.default_limit))
    assert ctx.get_channel().get("counts") == list(range(1, 11))
    assert result == 10


def test_next_iteration_past_max_cycles_raises_cycle_limit_exceeded(runner):
    context, error = runner.run_context(gf.single(gf.insists))
    assert isinstance(error, CycleLimitExceededError)
    assert (error.task_id, error.cycle_count, error.max_cycles) == ("insists", 2, 2)
    assert context.get_channel().get("counts") == [1, 2]  # ran twice, never a third time
    assert context.status == "failed"


def test_a_task_may_catch_the_cycle_limit(runner):
    result, _ = runner.execute(gf.single(gf.catches_the_limit))
    assert result == "stopped at 2/2"


def test_cycle_count_counts_every_run_of_the_task_as_graflow_does(runner):
    result, ctx = runner.execute(gf.jump_loop(), start_node="agent")
    channel = ctx.get_channel()
    assert channel.get("agent_runs") == [[1, True], [2, True], [3, True], [4, False]]
    assert channel.get("tool_runs") == [1, 2, 3]
    assert result == 4


def test_a_resumed_run_goes_on_counting(runner, tmp_path):
    path = tmp_path / "loop.json"
    result, ctx = runner.execute(gf.single(gf.checkpointed_loop),
                                 initial_channel={"checkpoint_path": str(path)})
    assert (result, ctx.get_channel().get("loop_runs")) == (4, [1, 2, 3, 4])
    resumed, channel = runner.resume(str(path))
    assert channel.get("loop_runs") == [1, 2, 3, 4]  # runs 3 and 4 again, then stops at max_cycles
    assert resumed == 4


# --- channels ----------------------------------------------------------------------------------------


def test_a_nested_lock_on_the_same_key_does_not_deadlock(runner):
    result, _ = runner.execute(gf.single(gf.nested_locks))
    assert result == "written under two locks"


def test_the_lock_stays_exclusive_for_another_thread(runner):
    result, _ = runner.execute(gf.single(gf.lock_is_per_thread))
    assert result == "timed out"


def test_nested_locks_still_exclude_parallel_members(runner):
    _, ctx = runner.execute(gf.locked_counters())
    assert ctx.get_channel().get("total") == 40  # 4 members x 10 read-modify-writes, none lost


def test_operations_on_the_wrong_type_raise_type_error(runner):
    result, _ = runner.execute(gf.single(gf.wrong_types))
    assert result == {"add_to_text": "TypeError", "add_to_list": "TypeError", "append_to_text": "TypeError"}


# --- results under <task id>.__result__ ------------------------------------------------------------


def test_a_result_is_read_from_the_channel_under_its_result_key(runner):
    result, ctx = runner.execute(gf.results_in_channel())
    assert result == {
        "get": 42,
        "exists": True,
        "missing": "dflt",
        "missing_exists": False,
        "listed": True,
        "own_listed": False,  # not completed yet while it runs
        "via_context": 42,
        "write": "ConfigurationError",  # results are set by returning them
    }
    channel = ctx.get_channel()  # after the run: on the run's handle too
    assert channel.get("read_results.__result__") == result
    assert {"calculate.__result__", "read_results.__result__"} <= set(channel.keys())
    assert channel.get_many(["calculate.__result__", "nope.__result__"]) == {"calculate.__result__": 42}


def test_an_iterated_task_s_result_key_holds_its_last_result(runner):
    _, ctx = runner.execute(gf.single(gf.countdown))
    assert ctx.get_channel().get("countdown.__result__") == 1


# --- group policies written for graflow ----------------------------------------------------------


def test_a_graflow_policy_accepts_a_group_within_its_failure_budget(runner):
    result, ctx = runner.execute(gf.deployment([gf.provision, gf.seed, gf.warm], max_failures=1))
    assert result == "announced"
    saw = ctx.get_channel().get("policy_saw")
    assert saw["tasks"] == ["provision", "seed", "warm"]
    assert saw["results"]["provision"] == ["TaskResult", True, ""]
    assert saw["results"]["warm"] == ["TaskResult", True, ""]
    kind, success, message = saw["results"]["seed"]
    assert (kind, success) == ("TaskResult", False)
    assert "seed data missing" in message


def test_a_graflow_policy_fails_the_group_with_graflow_s_error(runner):
    members = [gf.provision, gf.seed, gf.flush_cache, gf.warm]
    with pytest.raises(ParallelGroupError) as info:
        runner.execute(gf.deployment(members, max_failures=1))
    error = info.value
    assert error.group_id == "deploy"
    assert error.policy == "critical_with_budget"
    assert sorted(tid for tid, _ in error.failed_tasks) == ["flush_cache", "seed"]
    assert sorted(error.successful_tasks) == ["provision", "warm"]
    assert "too many failures (2 > 1)" in str(error)


def test_a_graflow_policy_sees_a_critical_failure(runner):
    with pytest.raises(ParallelGroupError, match=re.escape("critical tasks failed: ['provision']")):
        runner.execute(gf.deployment([gf.provision_breaks, gf.seed, gf.warm], max_failures=5))


@pytest.mark.parametrize("backend", [CoordinationBackend.DIRECT, CoordinationBackend.REDIS, "threading"])
def test_with_execution_takes_graflow_s_coordination_backends(runner, backend):
    wf = gf.deployment([gf.provision, gf.warm], max_failures=0, backend=backend)
    result, _ = runner.execute(wf)
    assert result == "announced"


# --- task instances --------------------------------------------------------------------------------


def test_keyword_arguments_alone_make_an_instance_with_an_automatic_id(runner):
    wf = gf.instances_in_definition()
    [instance_id] = [n for n in wf.graph.nodes if n.startswith("fetch_")]
    assert re.fullmatch(r"fetch_[0-9a-f]{8}", instance_id)
    _, ctx = runner.execute(wf)
    assert ctx.get_result(instance_id) == "eu:2"


def test_instances_made_at_run_time_get_ids_of_their_own(runner):
    _, ctx = runner.execute(gf.instances_at_run_time())
    ids = ctx.get_result("fan_out")
    assert len(set(ids)) == 3 and all(re.fullmatch(r"fetch_[0-9a-f]{8}", i) for i in ids)
    assert [ctx.get_result(i) for i in ids] == ["eu:0", "us:0", "ap:0"]


# --- without a backend: definitions and direct calls -----------------------------------------


def test_calling_a_task_with_keywords_returns_an_instance_and_does_not_run_it():
    calls = []

    @task
    def record(item: str) -> str:
        calls.append(item)
        return item

    instance = record(item="x")
    assert isinstance(instance, TaskWrapper)
    assert instance.task_id != "record" and instance.task_id.startswith("record_")
    assert instance.bound_kwargs == {"item": "x"}
    assert calls == []
    assert record(item="x").task_id != instance.task_id


def test_run_calls_the_task_with_its_bound_arguments_then_the_given_ones():
    instance = gf.fetch(region="eu")
    assert instance.run() == "eu:0"
    assert instance() == "eu:0"  # no arguments: graflow's shorthand for run()
    assert instance.run(retries=5) == "eu:5"
    assert gf.fetch.run("us") == "us:0"
    assert gf.fetch("us", retries=1) == "us:1"  # positional arguments run it (graflow refuses)


def test_run_gives_an_injected_task_a_context_of_its_own():
    @task(inject_context=True)
    def who(ctx: TaskExecutionContext, n: int = 0) -> tuple[str, str, int, int]:
        return type(ctx).__name__, ctx.task_id, ctx.cycle_count, n

    assert who.run(n=3) == ("TaskContext", "who", 1, 3)
    assert who() == ("TaskContext", "who", 1, 0)


def test_graflow_policy_names_are_ours():
    assert GroupExecutionPolicy is GroupPolicy
    assert [m.name for m in CoordinationBackend] == ["REDIS", "THREADING", "DIRECT"]


def test_built_in_policies_also_take_graflow_s_arguments():
    tasks = [flows.ok_task, flows.bad_task]
    results = {"ok_task": TaskResult("ok_task", True), "bad_task": TaskResult("bad_task", False,
                                                                          error_message="bad input")}
    with pytest.raises(ParallelGroupError, match=r"bad_task \(bad input\)"):
        StrictGroupPolicy().on_group_finished("g", tasks, results, None)
    BestEffortGroupPolicy().on_group_finished("g", tasks, results, None)


def test_at_least_zero_is_allowed_as_in_graflow():
    AtLeastNGroupPolicy(0).on_group_finished("g", [MemberOutcome("a", False)])
    with pytest.raises(GraphDefinitionError, match="min_success >= 0, got -1"):
        AtLeastNGroupPolicy(-1)


def test_graflow_s_result_check_names_what_does_not_match():
    policy = gf.CriticalWithBudget(["ok_task"], 0)
    with pytest.raises(ParallelGroupError, match=r"missing \['bad_task'\]"):
        policy._validate_group_results("g", [flows.ok_task, flows.bad_task],
                                       {"ok_task": TaskResult("ok_task", True)})


def test_an_unknown_coordination_backend_or_a_bad_config_is_refused():
    with workflow("bad_backend"):
        group = parallel(flows.ok_task, flows.bad_task)
        with pytest.raises(GraphDefinitionError, match="unknown coordination backend 'gpu'"):
            group.with_execution(backend="gpu")
        with pytest.raises(GraphDefinitionError, match="backend_config must be a dict, got list"):
            group.with_execution(backend_config=["thread_count", 2])  # type: ignore[arg-type]
        group.with_execution(backend="REDIS", backend_config={"host": "localhost"})
        assert group.backend is CoordinationBackend.REDIS
        assert group.backend_config == {"host": "localhost"}
