"""Sequences, joins, groups and parameters: the same answers on every backend."""

from __future__ import annotations

from graflow_celery import ExecutionContext, WorkflowEngine
from tests.contract import flows


def test_pipeline_passes_results_by_parameter_name(runner):
    result, ctx = runner.execute(flows.pipeline())
    assert result == 12
    assert ctx.get_result("load") == [1, 2, 3]
    assert ctx.get_result("double") == [2, 4, 6]


def test_initial_channel_fills_parameters_and_defaults_apply(runner):
    result, _ = runner.execute(flows.greeting(), initial_channel={"name": "world"})
    assert result == "hello world!"


def test_upstream_result_wins_over_channel_key(runner):
    result, _ = runner.execute(flows.pipeline(), initial_channel={"load": [100], "offset": 1})
    assert result == 13  # `load` comes from the task; `offset` from the channel


def test_task_instances_bind_their_own_arguments(runner):
    result, ctx = runner.execute(flows.bound_instances())
    assert ctx.get_result("greet_ann") == "hello ann!"
    assert result == "hello bob?"


def test_diamond_join_runs_once_after_both_branches(runner):
    _, ctx = runner.execute(flows.diamond())
    log = ctx.get_channel().get("log")
    assert log.count("d") == 1
    assert log[0] == "a"
    assert log[-1] == "d"
    assert sorted(log[1:3]) == ["b", "c"]


def test_group_members_run_then_the_successor_joins_their_results(runner):
    result, ctx = runner.execute(flows.group_flow())
    assert result == 4 + 30
    assert ctx.get_result("ParallelGroup_1") == {"left": 4, "right": 30}


def test_chains_inside_a_group_finish_before_the_group_completes(runner):
    _, ctx = runner.execute(flows.chains_in_group())
    log = ctx.get_channel().get("log")
    assert log[0] == "a" and log[-1] == "e"
    assert log.index("b") < log.index("c")
    assert sorted(log) == ["a", "b", "c", "d", "e"]


def test_nested_groups(runner):
    result, ctx = runner.execute(flows.nested_groups())
    log = ctx.get_channel().get("log")
    assert log[0] == "a" and log[-1] == "e" and sorted(log[1:4]) == ["b", "c", "d"]
    assert ctx.get_result("outer") == {"inner": {"b": "b", "c": "c"}, "d": "d"}
    assert result == "e"


def test_chain_helper(runner):
    result, ctx = runner.execute(flows.chain_helper())
    assert ctx.get_channel().get("log") == ["a", "b", "c"]
    assert result == "c"


def test_rich_values_round_trip(runner):
    import datetime as dt
    import uuid
    from decimal import Decimal

    result, _ = runner.execute(flows.single(flows.rich_values))
    assert result["when"] == dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
    assert result["amount"] == Decimal("12.50")
    assert result["id"] == uuid.UUID(int=7)
    assert result["pair"] == (1, "x")
    assert result["tags"] == {"a"}
    assert result["raw"] == b"\x00\x01"
    assert result[1] == "int key"


def test_pydantic_models_in_signatures_travel_between_tasks(runner):
    result, ctx = runner.execute(flows.receipts())
    assert result == [flows.Receipt(order_id=7, lines=["book"]), flows.Receipt(order_id=8, lines=[])]
    assert type(ctx.get_result("make_receipt")) is flows.Receipt


def test_get_result_inside_a_task(runner):
    result, _ = runner.execute(flows.reader_flow())
    assert result == {"load": [1, 2, 3], "nothing": "default"}


def test_low_level_context_and_engine():
    wf = flows.pipeline()
    context = ExecutionContext.create(graph=wf.graph, start_node="load", channel_backend="memory")
    assert WorkflowEngine().execute(context, "load") == 12
    assert context.get_result("double") == [2, 4, 6]
