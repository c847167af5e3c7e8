"""graflow's API on every backend: the low-level graph, ``ExecutionContext.create``'s settings
and attributes, ``RetryLimitExceededError``, and what a task's context offers."""

from __future__ import annotations

import pytest

from graflow_celery.exceptions import GraflowRuntimeError, RetryLimitExceededError, TaskError
from tests.contract import flows
from tests.contract import graflow_api_flows as graflow_flows


def test_a_low_level_graph_runs_and_reports_graflows_attributes(runner):
    context, error = runner.run_context(graflow_flows.low_level_graph(), max_steps=10)
    assert error is None
    assert context.final_result() == 60
    assert context.get_channel().get("log") == ["extract", "transform", "load"]
    assert sorted(context.completed_tasks) == ["extract", "load", "transform"]
    assert context.steps == 3
    assert context.session_id == context.run_id == context.trace_id


def test_workflow_add_node_and_add_edge_build_a_runnable_workflow(runner):
    result, ctx = runner.execute(graflow_flows.added_nodes())
    assert result == 60
    assert ctx.get_channel().get("log") == ["extract", "transform", "load"]


def test_spent_retries_raise_retry_limit_exceeded(runner):
    with pytest.raises(RetryLimitExceededError) as info:
        runner.execute(flows.single(flows.hopeless))
    err = info.value
    assert (err.task_id, err.retry_count, err.max_retries) == ("hopeless", 2, 2)
    assert err.error_type == "ConnectionError" and "still down" in err.error_message
    assert isinstance(err, TaskError) and isinstance(err, GraflowRuntimeError)
    assert "still down" in str(err.__cause__)


def test_a_task_without_retries_fails_with_task_error_only(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.single(flows.bad_task))
    assert not isinstance(info.value, RetryLimitExceededError)


def test_default_max_retries_applies_to_tasks_without_their_own(runner):
    context, error = runner.run_context(graflow_flows.single(graflow_flows.unstable, "graflow_unstable"),
                                        default_max_retries=3)
    assert error is None
    assert context.final_result() == "recovered on attempt 3"
    context, error = runner.run_context(graflow_flows.single(graflow_flows.unstable, "graflow_unstable"))
    assert isinstance(error, TaskError) and not isinstance(error, RetryLimitExceededError)  # default: 0


def test_a_tasks_own_max_retries_wins_over_the_default(runner):
    context, error = runner.run_context(
        graflow_flows.single(graflow_flows.no_retries_please, "graflow_no_retries"), default_max_retries=3)
    assert isinstance(error, TaskError) and not isinstance(error, RetryLimitExceededError)
    assert context.get_channel().get("attempts") == 1


def test_task_execution_context_offers_graflows_attributes(runner):
    context, error = runner.run_context(graflow_flows.single(graflow_flows.context_facts, "graflow_facts"))
    assert error is None
    facts = context.final_result()
    assert facts["session_id"] == facts["trace_id"] == context.run_id
    assert facts["has_itself"] is True
    assert 0 <= facts["elapsed"] < 60
    assert (facts["local"], facts["missing_local"]) == (42, "default")


def test_a_root_task_starts_a_workflow_and_does_nothing(runner):
    result, ctx = runner.execute(graflow_flows.rooted())
    assert result == "ran after the root"
    assert ctx.get_result("start") is None
    assert sorted(ctx.completed_tasks) == ["after_root", "start"]
