"""Tracers (graflow's ``graflow.trace``) see a run through the engine's lifecycle events:
``workflow(name, tracer=...)`` or ``ExecutionContext.create(..., tracer=...)``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from graflow_celery import ConfigurationError, ExecutionContext, WorkflowEngine, task, workflow
from graflow_celery.core import events
from graflow_celery.exceptions import RetryLimitExceededError
from graflow_celery.trace import ConsoleTracer, NoopTracer, Tracer
from tests.contract import graflow_api_flows as graflow_flows


class Recorder(Tracer):
    """A tracer written as graflow's docs say: override the hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def on_workflow_start(self, workflow_name, context):
        self.calls.append(("workflow_start", workflow_name, context.session_id))

    def on_workflow_end(self, workflow_name, context, result=None):
        self.calls.append(("workflow_end", workflow_name, result))

    def on_task_start(self, task, context):
        super().on_task_start(task, context)  # keeps the execution order
        self.calls.append(("task_start", task.task_id))

    def on_task_end(self, task, context, result=None, error=None):
        self.calls.append(("task_end", task.task_id, result, type(error).__name__ if error else None))

    def on_parallel_group_start(self, group_id, member_ids, context):
        self.calls.append(("group_start", group_id, tuple(member_ids)))

    def on_parallel_group_end(self, group_id, member_ids, context, results=None):
        self.calls.append(("group_end", group_id, results))


def traced_workflow(name: str, tracer: Tracer | None):
    with workflow(name, tracer=tracer) as wf:
        @task
        def source():
            return 2

        @task
        def left(source):
            return source * 10

        @task
        def right(source):
            return source + 1

        @task
        def sink(grp):
            return grp["left"] + grp["right"]

        source >> (left | right).set_group_name("grp") >> sink
    return wf


def test_a_workflows_tracer_sees_its_run_in_order():
    recorder = Recorder()
    wf = traced_workflow("trace_order", recorder)
    _, ctx = wf.execute(ret_context=True, max_workers=1)
    calls = recorder.calls
    assert calls[0] == ("workflow_start", "trace_order", ctx.session_id)
    assert calls[-1] == ("workflow_end", "trace_order", 23)
    assert calls[1:3] == [("task_start", "source"), ("task_end", "source", 2, None)]
    group = calls[3:-3]
    assert group[0] == ("group_start", "grp", ("left", "right"))
    assert group[-1] == ("group_end", "grp", {"left": 20, "right": 3})
    assert sorted(group[1:-1]) == [("task_end", "left", 20, None), ("task_end", "right", 3, None),
                                   ("task_start", "left"), ("task_start", "right")]
    assert calls[-3:-1] == [("task_start", "sink"), ("task_end", "sink", 23, None)]
    assert recorder.get_execution_order()[0] == "source" and recorder.get_execution_order()[-1] == "sink"


def test_a_tracer_unsubscribes_when_its_run_ends():
    before = len(events.middleware())
    traced_workflow("trace_unsubscribe", Recorder()).execute()
    assert len(events.middleware()) == before


def test_each_failed_attempt_ends_with_its_error():
    recorder = Recorder()
    context = ExecutionContext.create(graflow_flows.single(graflow_flows.unstable, "trace_retries").graph,
                                      default_max_retries=1, tracer=recorder)
    with pytest.raises(RetryLimitExceededError):
        WorkflowEngine().execute(context)
    ends = [c for c in recorder.calls if c[0] == "task_end"]
    assert ends == [("task_end", "unstable", None, "RuntimeError")] * 2
    assert recorder.calls[-1] == ("workflow_end", "workflow", None)  # create() without name=
    assert context.tracer is recorder


def test_the_console_tracer_prints_the_run(capsys):
    traced_workflow("trace_console", ConsoleTracer(enable_colors=False)).execute(max_workers=1)
    lines = [re.sub(r"\[\d\d:\d\d:\d\d\.\d{3}\] ", "", line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0].startswith("→ TRACE START: trace_console (trace_id=")
    assert re.fullmatch(r"✓ TRACE END: trace_console \(\d+\.\dms\)", lines[-1])
    assert "  → SPAN START: source (task_type=TaskWrapper)" in lines
    assert "  ⚡ EVENT: parallel_group_start: grp (members=2)" in lines
    assert "    → SPAN START: left (task_type=TaskWrapper)" in lines  # a member, under its group
    assert "  ⚡ EVENT: parallel_group_end: grp (outcome=completed, members=2)" in lines
    assert any(re.fullmatch(r"  ✓ SPAN END: sink \(\d+\.\dms\)", line) for line in lines)


def test_the_console_tracer_shows_errors_in_color(capsys):
    tracer = ConsoleTracer(show_metadata=False)
    wf = graflow_flows.single(graflow_flows.no_retries_please, "trace_err")
    context = ExecutionContext.create(wf.graph, tracer=tracer)
    with pytest.raises(Exception, match="once is enough"):
        WorkflowEngine().execute(context)
    out = capsys.readouterr().out
    assert "\033[31m" in out and "SPAN END: no_retries_please - ERROR: once is enough" in out
    assert "(task_type=" not in out


def test_the_noop_tracer_prints_nothing_and_lists_the_tasks(capsys):
    tracer = NoopTracer()
    traced_workflow("trace_noop", tracer).execute(max_workers=1)
    assert capsys.readouterr().out == ""
    assert sorted(tracer.get_execution_order()) == ["left", "right", "sink", "source"]
    assert tracer.get_runtime_graph() is None


def test_a_tracer_on_the_celery_backend_is_refused_saying_where_to_trace():
    with pytest.raises(ConfigurationError, match="add middleware there"):
        traced_workflow("trace_celery", NoopTracer()).execute(backend="celery")
