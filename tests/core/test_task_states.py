"""``task_states`` on hand-made run states: the cases a real run shows only briefly (a retry
waiting, a join skipped by a goto, a node running again in a loop, a run that never started)."""

from __future__ import annotations

from graflow_celery.core.run_state import BarrierState, RunState, ScopeState, reopen
from graflow_celery.core.steps import BranchOutcome, Step
from graflow_celery.core.task_states import task_states

NODES = ["a", "b", "c"]


def test_a_run_not_started_is_all_pending_and_one_that_never_will_is_all_skipped():
    assert task_states(NODES, RunState(status="pending"), set()) == dict.fromkeys(NODES, "pending")
    assert task_states(NODES, RunState(status="discarded"), set()) == dict.fromkeys(NODES, "skipped")


def test_a_retry_waiting_is_pending_and_a_step_holding_its_lease_is_executing():
    state = RunState(status="running", results={"a": b"1"},
                     frontier={"2": Step("2", "b", attempt=1), "3": Step("3", "c")})
    assert task_states(NODES, state, set()) == {"a": "completed", "b": "pending", "c": "pending"}
    assert task_states(NODES, state, {"3"}) == {"a": "completed", "b": "pending", "c": "executing"}
    assert task_states(NODES, state, {"99"})["c"] == "pending"  # a lease of a step no longer there


def test_a_node_running_again_in_a_loop_is_pending_or_executing_not_completed():
    state = RunState(status="running", results={"a": b"1"}, frontier={"4": Step("4", "a", cycle=1)})
    assert task_states(["a"], state, set()) == {"a": "pending"}
    assert task_states(["a"], state, {"4"}) == {"a": "executing"}


def test_a_join_cut_off_by_a_goto_is_skipped_at_once():
    state = RunState(status="running", frontier={"5": Step("5", "c", phase="skip")})
    assert task_states(["c"], state, set()) == {"c": "skipped"}


def test_failures_in_a_branch_and_of_the_run():
    failed_member = BranchOutcome(False, "b: boom", None, Step("3", "b", scope="2/0"))
    state = RunState(status="running", results={"a": b"1"},
                     barriers={"2": BarrierState("grp", "", [failed_member, None])},
                     scopes={"": ScopeState(inflight=1), "2/1": ScopeState(inflight=1)},
                     frontier={"4": Step("4", "c", scope="2/1")})
    assert task_states(["a", "grp", "b", "c"], state, {"4"}) == \
        {"a": "completed", "grp": "executing", "b": "failed", "c": "executing"}
    ended = RunState(status="failed", failed_step=Step("6", "grp", phase="judge", barrier="2"),
                     barriers=state.barriers, results={"a": b"1", "c": b"2"})
    assert task_states(["a", "grp", "b", "c", "d"], ended, set()) == \
        {"a": "completed", "grp": "failed", "b": "failed", "c": "completed", "d": "skipped"}


def test_nodes_the_state_names_beyond_the_graph_are_included():
    state = RunState(status="completed", results={"a": b"1", "added": b"2"})
    assert task_states(["a"], state, set()) == {"a": "completed", "added": "completed"}


def test_a_resumed_run_forgets_the_failure_it_runs_again():
    """``reopen`` undoes the failure: the step is pending again, then executing, then completed."""
    failed = Step("2", "b")
    state = RunState(status="failed", failed_step=failed, results={"a": b"1"},
                     scopes={"": ScopeState(inflight=1, error="b: boom", error_step=failed)})
    state = reopen(state)
    assert task_states(["a", "b"], state, set()) == {"a": "completed", "b": "pending"}
    assert task_states(["a", "b"], state, {"2"}) == {"a": "completed", "b": "executing"}
    state.frontier.clear()
    state.results["b"], state.status = b"2", "completed"
    assert task_states(["a", "b"], state, set()) == {"a": "completed", "b": "completed"}
