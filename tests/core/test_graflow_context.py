"""graflow's contexts: ``ExecutionContext.create``'s signature and attributes, the current and
implicit workflow, graflow's exception names, policy helpers and ``ChannelFactory`` - in process
(the contract suite runs what applies to Celery too: tests/contract/test_graflow_api.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graflow_celery import (
    ConfigurationError,
    ExecutionContext,
    GraphDefinitionError,
    TaskError,
    WorkflowEngine,
    task,
    workflow,
)
from graflow_celery import errors as ours
from graflow_celery import exceptions as graflows
from graflow_celery.channels.factory import ChannelFactory
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.core.context import create_execution_context
from graflow_celery.core.handlers import group_policy
from graflow_celery.core.workflow import (
    WorkflowContext,
    clear_workflow_context,
    current_workflow_context,
    get_current_workflow_context,
    require_workflow_context,
    set_current_workflow_context,
)
from graflow_celery.graph_codec import GraphCodec
from graflow_celery.trace import NoopTracer
from tests.contract import graflow_api_flows as graflow_flows


def test_create_takes_graflows_arguments_in_graflows_order():
    graph = graflow_flows.low_level_graph().graph
    context = ExecutionContext.create(graph, "extract", 50, 7, 0, "memory", {"region": "eu"})
    assert (context.max_steps, context.default_max_cycles) == (50, 7)
    assert context.config == {"region": "eu"}
    assert WorkflowEngine().execute(context) == 60


def test_max_cycles_and_default_max_cycles_are_one_setting():
    graph = graflow_flows.low_level_graph().graph
    assert ExecutionContext.create(graph, max_cycles=4).default_max_cycles == 4
    assert ExecutionContext.create(graph, default_max_cycles=4, max_cycles=4).default_max_cycles == 4
    with pytest.raises(ConfigurationError, match="one setting"):
        ExecutionContext.create(graph, default_max_cycles=4, max_cycles=5)


def test_create_refuses_bad_settings_clearly():
    graph = graflow_flows.low_level_graph().graph
    with pytest.raises(ConfigurationError, match="unknown channel_backend 'kafka'"):
        ExecutionContext.create(graph, channel_backend="kafka")
    with pytest.raises(ConfigurationError, match="default_max_retries must be a whole number"):
        ExecutionContext.create(graph, default_max_retries=-1)


def test_config_is_kept_without_the_redis_client():
    graph = graflow_flows.low_level_graph().graph
    context = ExecutionContext.create(graph, config={"redis_client": object(), "region": "eu"})
    assert context.config == {"region": "eu"}
    assert ExecutionContext.create(graph).config == {}


def test_default_max_retries_leaves_the_definition_alone():
    wf = graflow_flows.single(graflow_flows.unstable, "gctx_unstable")
    context = ExecutionContext.create(wf.graph, default_max_retries=3)
    assert context.graph.get_node("unstable").max_retries == 3
    assert wf.graph.get_node("unstable").max_retries == 0


def test_completed_tasks_are_in_completion_order_in_process():
    context = ExecutionContext.create(graflow_flows.low_level_graph().graph, "extract")
    WorkflowEngine().execute(context)
    assert context.completed_tasks == ["extract", "transform", "load"]
    assert context.steps == 3


def test_last_checkpoint_path_names_the_last_checkpoint(tmp_path):
    context = ExecutionContext.create(graflow_flows.low_level_graph().graph, "extract")
    assert context.last_checkpoint_path is None
    WorkflowEngine().execute(context)
    path, _ = context.checkpoint(str(tmp_path / "run.json"))
    assert context.last_checkpoint_path == path


def test_create_execution_context_runs_a_single_root():
    context = create_execution_context("ROOT", max_steps=5, tracer=NoopTracer())
    assert list(context.graph.nodes) == ["ROOT"] and context.max_steps == 5
    assert WorkflowEngine().execute(context) is None
    assert context.completed_tasks == ["ROOT"]


# --- the current workflow and the implicit one ------------------------------------------------


@pytest.fixture
def no_implicit_workflow() -> Iterator[None]:
    clear_workflow_context()
    yield
    clear_workflow_context()  # later tests must not compose into this test's implicit workflow


def test_inside_a_block_the_current_workflow_is_the_blocks(no_implicit_workflow):
    assert get_current_workflow_context() is None
    with workflow("gctx_block") as wf:
        assert current_workflow_context() is wf
        assert require_workflow_context() is wf
        clear_workflow_context()  # forgets the implicit workflow; the block stays current
        assert current_workflow_context() is wf
    assert get_current_workflow_context() is None
    with pytest.raises(ours.WorkflowRuntimeError, match="no current workflow"):
        require_workflow_context()


def test_composing_outside_a_block_builds_the_implicit_workflow(no_implicit_workflow):
    @task
    def global_a():
        return "a"

    @task
    def global_b(global_a):
        return global_a + "b"

    @task
    def before():
        return "defined before there was an implicit workflow"

    global_a >> global_b
    implicit = current_workflow_context()
    assert isinstance(implicit, WorkflowContext)
    assert list(implicit.graph.nodes) == ["global_a", "global_b"]
    assert current_workflow_context() is implicit
    assert implicit.execute() == "ab"

    @task
    def after():
        return "defined while it exists"

    assert list(implicit.graph.nodes) == ["global_a", "global_b", "after"]  # graflow's rule
    assert implicit.execute("after") == "defined while it exists"
    clear_workflow_context()
    fresh = current_workflow_context()
    assert fresh is not implicit and list(fresh.graph.nodes) == []


def test_a_group_outside_a_block_joins_the_implicit_workflow(no_implicit_workflow):
    @task
    def left():
        return 1

    @task
    def right():
        return 2

    group = left | right
    assert current_workflow_context().graph.get_parallel_group_members(group.task_id) == ["left", "right"]


def test_set_current_workflow_context_chooses_the_implicit_workflow(no_implicit_workflow):
    with workflow("gctx_chosen") as chosen:
        pass

    @task
    def solo():
        return 1

    @task
    def after(solo):
        return solo + 1

    set_current_workflow_context(chosen)
    solo >> after
    assert chosen.graph.edges == [("solo", "after")]
    assert chosen.execute() == 2


def test_rebuilding_a_stored_graph_joins_no_workflow(no_implicit_workflow):
    """A worker rebuilds each run's graph from data, groups included: that must not make or fill an
    implicit workflow, or the next run's nodes would clash with the last one's."""
    from tests.contract import flows

    codec = GraphCodec()
    raw = codec.encode(flows.group_flow().graph, "group_flow")
    for _ in range(2):
        _, graph = codec.decode(raw)
        assert graph.get_parallel_group_members("ParallelGroup_1") == ["left", "right"]
    assert get_current_workflow_context() is None


@task(inject_context=True)
def composes_at_run_time(ctx) -> None:
    composes_at_run_time >> composes_at_run_time


def test_composing_inside_a_running_task_is_an_error_naming_next_task(no_implicit_workflow):
    with workflow("gctx_run_time") as wf:
        wf.add(composes_at_run_time)
    with pytest.raises(TaskError, match="inside a running task adds nothing") as info:
        wf.execute()
    assert info.value.error_type == "GraphDefinitionError"
    assert get_current_workflow_context() is None  # and no implicit workflow was made


# --- graflow's exception names ----------------------------------------------------------------


def test_graflows_exception_names_are_our_classes():
    assert graflows.GraflowRuntimeError is ours.WorkflowRuntimeError
    assert graflows.GraphCompilationError is ours.GraphDefinitionError
    assert graflows.ConfigError is ours.ConfigurationError
    assert graflows.GraflowWorkflowCanceledError is ours.WorkflowCancelledError
    for name in ("CycleLimitExceededError", "RetryLimitExceededError", "TaskError", "ParallelGroupError",
                 "GraflowWorkflowCanceledError"):
        assert issubclass(getattr(graflows, name), graflows.GraflowRuntimeError), name
    assert issubclass(graflows.DuplicateTaskError, graflows.GraphCompilationError)
    for name in graflows.__all__:
        if isinstance(getattr(graflows, name), type) and name != "RemoteError":
            assert issubclass(getattr(graflows, name), graflows.GraflowError), name


def test_retry_limit_exceeded_error_as_graflow_builds_it():
    cause = ValueError("fail #3")
    err = graflows.RetryLimitExceededError("job", retry_count=2, max_retries=2, last_error=cause)
    assert (err.task_id, err.retry_count, err.max_retries, err.last_error) == ("job", 2, 2, cause)
    assert (err.error_type, err.error_message) == ("ValueError", "fail #3")
    assert str(err) == "task 'job' failed after 2 of 2 retries: ValueError: fail #3"


def test_a_graflow_error_takes_graflows_cause_keyword():
    cause = OSError("disk full")
    err = graflows.GraflowRuntimeError("saving failed", cause=cause)
    assert err.cause is cause and err.__cause__ is cause and str(err) == "saving failed"
    assert graflows.GraflowError("plain").cause is None


def test_as_runtime_error_wraps_anything_else():
    runtime = ours.WorkflowRuntimeError("x")
    assert graflows.as_runtime_error(runtime) is runtime
    wrapped = graflows.as_runtime_error(KeyError("k"))
    assert isinstance(wrapped, graflows.GraflowRuntimeError) and isinstance(wrapped.__cause__, KeyError)


def test_unknown_task_error_is_a_key_error_with_a_readable_message():
    err = ours.UnknownTaskError("x", ["b", "a"])
    assert isinstance(err, KeyError) and isinstance(err, GraphDefinitionError)
    assert str(err) == "no task 'x' in the workflow (tasks: ['a', 'b'])"


# --- policies and channels under graflow's module paths ---------------------------------------


def test_group_policies_resolve_from_graflows_forms():
    gp = group_policy
    assert isinstance(gp.resolve_group_policy("best_effort"), gp.BestEffortGroupPolicy)
    at_least = gp.resolve_group_policy({"type": "at_least_n", "min_success": 2})
    assert isinstance(at_least, gp.AtLeastNGroupPolicy) and at_least.min_success == 2
    critical = gp.resolve_group_policy({"type": "critical", "critical_task_ids": ["a"]})
    assert isinstance(critical, gp.CriticalGroupPolicy) and critical.critical_task_ids == ["a"]
    for policy in ("strict", gp.StrictGroupPolicy(), at_least, critical):
        canonical = gp.canonicalize_group_policy(policy)
        assert type(gp.resolve_group_policy(canonical)) is type(gp.resolve_group_policy(policy))
    custom = gp.GroupExecutionPolicy()
    assert gp.canonicalize_group_policy(custom) == {"type": "__custom__", "policy": custom}
    with pytest.raises(ValueError, match="unknown group policy"):
        gp.resolve_group_policy({"type": "most"})


def test_channel_factory_makes_memory_channels():
    assert ChannelFactory.is_backend_available("memory")
    assert "redis" in ChannelFactory.get_available_backends()
    channel = ChannelFactory.create_channel("memory", "shared")
    assert isinstance(channel, MemoryChannel) and channel.name == "shared"
    channel.set("k", {"v": 1})
    assert channel.get("k") == {"v": 1}
    with pytest.raises(ConfigurationError, match="unknown channel backend 'kafka'"):
        ChannelFactory.create_channel("kafka", "x")
