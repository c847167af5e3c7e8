"""Each task's state while a run goes on and after it has ended (``RunHandle.task_states``), the
same on every backend: executing while its function runs, failed in a group that accepted it,
pending until reached, completed, skipped when a goto cut it off; a task added at run time
appears once added."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import graflow_celery
from graflow_celery import GraflowError, MemoryBackend, TaskContext, WorkflowEngine, parallel, task, workflow
from graflow_celery.backends.memory.run import InProcessRun
from graflow_celery.core.run_handle import RunHandle
from tests.conftest import Runner
from tests.support.wait import wait_for


@task
def opening() -> str:
    return "open"


@task(inject_context=True)
def hold(ctx: TaskContext) -> str:
    """Runs until the test lets it go, so that it can be seen executing."""
    deadline = time.monotonic() + 60
    while not ctx.get_channel().get("release", False):
        if time.monotonic() > deadline:
            raise TimeoutError("nobody released hold")
        time.sleep(0.02)
    return "held"


@task
def fails_softly() -> str:
    raise ValueError("fails on purpose; the group accepts it")


@task(inject_context=True)
def router(ctx: TaskContext) -> str:
    ctx.next_task(jumped, goto=True)  # added at run time; router's successors are skipped
    return "routed"


@task
def jumped() -> str:
    return "jumped"


@task
def never() -> str:
    return "never runs"


def states_flow():
    with workflow("task_states") as wf:
        group = parallel(hold, fails_softly, name="pair").with_execution(policy="best_effort")
        opening >> group >> router >> never
    return wf


@contextmanager
def started(runner: Runner, wf) -> Iterator[RunHandle]:
    """The run's handle while it goes on: in a thread of this process, or on the workers."""
    if runner.app is not None:
        yield graflow_celery.submit(wf, app=runner.app)
        return
    context = MemoryBackend(max_workers=4).new_run(wf.graph, name=wf.name)

    def execute() -> None:
        with suppress(GraflowError):  # the test looks at the run through its handle
            WorkflowEngine().execute(context)

    thread = threading.Thread(target=execute)
    thread.start()
    try:
        yield RunHandle(InProcessRun(context))
    finally:
        context.channel.set("release", True)
        thread.join(30)


def test_task_states_while_running_and_after(runner):
    with started(runner, states_flow()) as run:
        during = wait_for("hold to be executing and fails_softly to have failed", lambda: (
            states if (states := run.task_states())["hold"] == "executing"
            and states["fails_softly"] == "failed" else None), timeout=30)
        assert during == {"opening": "completed", "pair": "executing", "hold": "executing",
                          "fails_softly": "failed", "router": "pending", "never": "pending"}
        run.get_channel().set("release", True)
        assert run.wait(timeout=30) == "completed"
        assert run.task_states() == {"opening": "completed", "pair": "completed", "hold": "completed",
                                     "fails_softly": "failed", "router": "completed", "never": "skipped",
                                     "jumped": "completed"}
