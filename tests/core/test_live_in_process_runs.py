"""Steps sent to an in-process run while it is being executed - ``recover()``, an answer to a
parked step, from another thread - join the run's executor: the call returns at once, and the
``execute()`` under way returns the run's result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import graflow_celery
from graflow_celery import MemoryBackend, TaskContext, WorkflowEngine, parallel, workflow
from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.task import TaskWrapper
from tests.support.wait import wait_for

SOON = 5.0  # seconds: far more than any of these runs needs once its gate opens


class Gate:
    """A task body that blocks until the test opens it, counting its calls."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.calls += 1
        assert self.opened.wait(30), "the test never opened the gate"
        return 20


class Executing:
    """``WorkflowEngine().execute(context)`` in a thread of its own."""

    def __init__(self, context: ExecutionContext) -> None:
        self.outcome: list[Any] = []
        self.thread = threading.Thread(target=self._execute, args=(context,), daemon=True)
        self.thread.start()

    def _execute(self, context: ExecutionContext) -> None:
        try:
            self.outcome.append(WorkflowEngine().execute(context))
        except Exception as exc:
            self.outcome.append(exc)

    def result(self) -> Any:
        self.thread.join(SOON)
        assert not self.thread.is_alive(), "execute() did not return"
        [outcome] = self.outcome
        return outcome


def returns_at_once(call: Callable[[], Any]) -> Any:
    """``call()`` in another thread: it must return within ``SOON`` (the gate is still shut)."""
    returned: list[Any] = []
    caller = threading.Thread(target=lambda: returned.append(call()), daemon=True)
    caller.start()
    caller.join(SOON)
    assert not caller.is_alive(), "the call waited for the run"
    return returned[0]


@pytest.mark.parametrize("max_workers", [1, 2])
def test_recover_during_execute_returns_at_once_and_execute_still_returns_the_result(max_workers):
    gate = Gate()
    with workflow("recover_live") as wf:
        TaskWrapper("gate", gate) >> TaskWrapper("plus_one", lambda gate: gate + 1)
    context = MemoryBackend(max_workers=max_workers).new_run(wf.graph, name=wf.name)
    run = graflow_celery.local_run(context.run_id)
    executing = Executing(context)
    wait_for("the gate to be running", lambda: gate.calls)

    assert returns_at_once(run.recover) == 1
    assert returns_at_once(run.recover) == 1  # the same step, sent twice more
    gate.opened.set()

    assert executing.result() == 21
    assert run.status() == "completed"
    assert run.results() == {"gate": 20, "plus_one": 21}
    assert run.progress() == (2, 2)  # each step applied once, its successor made ready once
    assert 1 <= gate.calls <= 3  # user code runs at least once


def test_a_parked_step_recovered_after_its_answer_runs_in_the_launch_still_going_on():
    gate = Gate()

    def ask(ctx: TaskContext) -> str:
        return "approved" if ctx.request_approval("ok?", timeout=None) else "rejected"

    with workflow("answer_live") as wf:
        parallel(TaskWrapper("ask", ask, inject_context=True), TaskWrapper("gate", gate), name="both")
    context = MemoryBackend(max_workers=2).new_run(wf.graph, name=wf.name)
    assert context.feedback is not None
    context.feedback.parks = True  # as execute(park_on_feedback=True): "ask" parks, "gate" goes on
    run = graflow_celery.local_run(context.run_id)
    executing = Executing(context)
    [request] = wait_for("the request", run.pending_feedback)
    wait_for("the gate to be running", lambda: gate.calls)
    run.respond(request.feedback_id, True, by="ann")

    assert returns_at_once(run.recover) == 2  # "ask", parked, and "gate", running
    wait_for("the answered step to run", lambda: run.get_result("ask"))
    gate.opened.set()

    executing.result()  # no WorkflowParkedError: the answered step ran in this launch
    assert run.status() == "completed"
    assert run.results()["ask"] == "approved"
