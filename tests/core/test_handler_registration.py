"""Naming handlers: the ``handler`` option, where names are looked up, graflow's
``WorkflowEngine.register_handler`` and ``context.set_result``, and the ``celery`` handler of
``from_celery`` steps (the behaviour on both backends is in ``tests/contract/test_task_handlers.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery

from graflow_celery import (
    ConfigurationError,
    ExecutionContext,
    GraphDefinitionError,
    TaskCall,
    TaskError,
    TaskHandler,
    TaskWrapper,
    WorkflowEngine,
    WorkflowRuntimeError,
    from_celery,
    register_handler,
    task,
    workflow,
)
from graflow_celery.core.task_options import TaskOptions
from graflow_celery.graph_codec import GraphCodec
from tests.support.app_tasks import add


class Doubling(TaskHandler):
    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        return task.run() * 2


def seven() -> int:
    return 7


@pytest.mark.parametrize("bad", ["", 3, Doubling()])
def test_the_handler_option_must_be_a_name(bad):
    with pytest.raises(GraphDefinitionError, match=r"task 'f': handler must be the non-empty name"):
        TaskWrapper("f", seven, handler=bad)


def test_the_handler_is_not_sent_as_a_message_option():
    options = TaskOptions(handler="process", queue="q", priority=3)
    assert options.message_options() == {"priority": 3}
    assert options.to_dict()["handler"] == "process"


def test_the_handler_travels_with_the_stored_graph():
    with workflow("codec_handlers") as wf:
        isolated = TaskWrapper("isolated", seven, handler="process")
        plain = TaskWrapper("plain", seven)
        isolated >> plain >> from_celery(add)
    app = Celery("codec_handlers", set_as_current=False)
    _, graph = GraphCodec(app=app).decode(GraphCodec(app=app).encode(wf.graph, "codec_handlers"))
    assert {n: graph.node(n).handler_type for n in ("isolated", "plain", "add")} == {
        "isolated": "process", "plain": "direct", "add": "celery"}


def test_register_handler_refuses_what_is_not_a_handler():
    with pytest.raises(ConfigurationError, match="must be a TaskHandler instance"):
        register_handler("broken", lambda task, context: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="non-empty string"):
        register_handler("", Doubling())


def test_engine_register_handler_applies_to_that_engine_only():
    """graflow's form: register on an engine, execute a context with it."""
    with workflow("engine_handlers") as wf:
        wf.add(TaskWrapper("doubled", seven, handler="doubling"))
    engine = WorkflowEngine()
    engine.register_handler("doubling", Doubling())
    assert engine.execute(ExecutionContext.create(wf.graph)) == 14
    with pytest.raises(ConfigurationError, match="task 'doubled' has handler='doubling'"):
        wf.execute()  # its own engine, which knows no such handler


def test_a_process_wide_handler_serves_every_engine():
    with workflow("process_wide") as wf:
        wf.add(TaskWrapper("doubled", seven, handler="doubling_everywhere"))
    register_handler("doubling_everywhere", Doubling())
    assert wf.execute() == 14


class Flaky(TaskHandler):
    """Fails the first time it runs a task: what a handler raises is the task's failure."""

    def __init__(self) -> None:
        self.calls = 0

    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the remote runner is not there yet")
        return task.run()


def test_a_handler_failure_is_retried_like_the_tasks_own():
    flaky = Flaky()
    with workflow("flaky_handler") as wf:
        wf.add(TaskWrapper("seven", seven, handler="flaky", max_retries=1))
    engine = WorkflowEngine()
    engine.register_handler("flaky", flaky)
    assert engine.execute(ExecutionContext.create(wf.graph)) == 7
    assert flaky.calls == 2


def test_set_result_belongs_to_a_handler_running_that_task():
    with workflow("set_result") as wf:
        wf.add(TaskWrapper("seven", seven))
    context = ExecutionContext.create(wf.graph)
    with pytest.raises(WorkflowRuntimeError, match="no handler is running here"):
        context.set_result("seven", 8)


class SetsAnother(TaskHandler):
    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        context.set_result("someone_else", 1)
        return task.run()


def test_a_handler_cannot_set_another_tasks_result():
    with workflow("set_another") as wf:
        wf.add(TaskWrapper("seven", seven, handler="sets_another"))
    engine = WorkflowEngine()
    engine.register_handler("sets_another", SetsAnother())
    with pytest.raises(TaskError, match="it runs task 'seven'") as info:
        engine.execute(ExecutionContext.create(wf.graph))
    assert info.value.error_type == "WorkflowRuntimeError"


@task(handler="celery")
def not_a_celery_task() -> int:
    return 1


def test_the_celery_handler_needs_a_celery_task():
    assert from_celery(add).handler_type == "celery"
    with workflow("celery_handler_misuse") as wf:
        wf.add(not_a_celery_task)
    with pytest.raises(TaskError, match=r"handler='celery'.*from_celery\(the_celery_task\)") as info:
        wf.execute()
    assert info.value.error_type == "ConfigurationError"
