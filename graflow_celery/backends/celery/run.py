"""Submitting a workflow to Celery, and the handle on a run: ``WorkflowRun``."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery

from graflow_celery.backends.celery import run_events
from graflow_celery.backends.celery.dispatcher import message_id
from graflow_celery.backends.celery.keys import RUN_ID_PATTERN
from graflow_celery.backends.celery.runtime import Runtime, resolve_app
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.celery.worker import RETRYABLE
from graflow_celery.checkpoints import Checkpoint, save
from graflow_celery.core import events
from graflow_celery.core.context import (
    DEFAULT_MAX_CYCLES,
    DEFAULT_MAX_STEPS,
    ExecutionContext,
    RunLimits,
    final_result,
)
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.events import RunInfo
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_state import reopen
from graflow_celery.core.workflow import WorkflowContext, registry
from graflow_celery.errors import ConfigurationError, WorkflowTimeoutError
from graflow_celery.redact import describe, redact
from graflow_celery.serialization import Serializer

logger = logging.getLogger("graflow_celery.run")


class WorkflowRun:
    """A run on the Celery backend. Re-attach from any process with ``WorkflowRun(run_id, app=app)``."""

    def __init__(self, run_id: str, app: Celery | None = None) -> None:
        self.id = run_id
        self.app = resolve_app(app)
        runtime = Runtime.for_app(self.app)
        self._runtime = runtime
        self._store: RedisRunStore = runtime._store(run_id)
        self._serializer: Serializer = runtime.serializer
        if not self._store.exists():
            raise ConfigurationError(
                f"no run {run_id!r} in {redact(runtime.settings.state_url)} (unknown or expired)")

    @property
    def run_id(self) -> str:
        return self.id

    def status(self) -> str:
        """"pending" (stored, not started), "running", "completed", "failed", "cancelled", or
        "missing" (its state expired)."""
        return self._store.status()

    @property
    def name(self) -> str:
        return self._runtime.workflow_name(self.id)

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run finishes (no polling) and return its status. Rides out Redis being
        unavailable for a while (the errors a worker retries on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                if not self._store.wait(left):
                    raise WorkflowTimeoutError(f"run {self.id} did not finish within {timeout}s")
                return self.status()
            except RETRYABLE as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise WorkflowTimeoutError(f"run {self.id} did not finish within {timeout}s "
                                               f"(Redis unavailable: {describe(exc)})") from exc
                time.sleep(0.5)

    def result(self, timeout: float | None = None) -> Any:
        """The last task's result; raises the run's error if it failed or was cancelled."""
        self.wait(timeout)
        return final_result(self._store, self._serializer)

    def results(self) -> dict[str, Any]:
        return {k: self._serializer.loads(v) for k, v in self._store.results().items()}

    def get_result(self, task_id: str, default: Any = None) -> Any:
        raw = self._store.result(task_id)
        return default if raw is None else self._serializer.loads(raw)

    def get_channel(self) -> Any:
        return self._runtime._channel(self.id)

    def progress(self) -> tuple[int, int]:
        """(steps done, steps made ready so far); the total grows as the workflow unfolds."""
        return self._store.progress()

    def cancel(self, message: str = "cancelled by run.cancel()") -> bool:
        """Cancel the run: nothing more is queued, steps not yet started are revoked and do
        nothing if they start anyway. False if the run had already finished."""
        if not self._store.cancel(message):
            return False
        record = {"kind": "cancelled", "message": message, "task_id": None}
        events.emit("run_finished", RunInfo(self.id, self.name), "cancelled", record)
        run_events.run_finished(self.app, self.id, "cancelled", record)
        pending = [message_id(self.id, step_id) for step_id in self._store.frontier()]
        if pending:
            self.app.control.revoke(pending)
        return True

    # --- durability ------------------------------------------------------------------------------------

    def checkpoint(self, path: str | None = None, metadata: dict[str, Any] | None = None) -> str:
        """Write a consistent snapshot of the run - taken atomically while it goes on - as a
        checkpoint document; returns its path. ``graflow_celery.resume(path)`` continues it on
        Celery, ``CheckpointManager.resume_from_checkpoint(path)`` in process."""
        written, _ = save(self._runtime.take_checkpoint(self.id, metadata), path)
        return written

    def resume(self) -> WorkflowRun:
        """Continue this failed run after its code was fixed: the step that failed it (for a
        group: the members that failed) runs again with fresh retries; completed results stay;
        the group is judged again. Workers must have the fixed code."""
        state, _ = self._store.snapshot()
        self._store.restore(reopen(state), expected_status="failed")
        self.recover()
        return self

    def recover(self) -> int:
        """Send again every step on the run's frontier, for instance after the broker lost
        messages (a flushed queue, a Redis failover). Always safe: a step that is delivered
        twice is applied once. Returns how many steps were sent."""
        if self.status() != "running":
            return 0
        context = self._runtime.context_for(self.id)
        if context is None:
            return 0
        steps = sorted(self._store.frontier().values(), key=lambda s: s.number)
        if steps:
            context.dispatcher.send(context, steps)
        return len(steps)

    def __repr__(self) -> str:
        return f"WorkflowRun({self.id!r}, status={self.status()!r})"


def _workflow(workflow: WorkflowContext | str) -> WorkflowContext:
    if isinstance(workflow, WorkflowContext):
        return workflow
    found = registry.get(workflow)
    if found is None:
        raise ConfigurationError(
            f"no workflow named {workflow!r} has been defined in this process (import the module that "
            f"defines it); known: {sorted(registry)}"
        )
    return found


def submit(
    workflow: WorkflowContext | str,
    inputs: dict[str, Any] | None = None,
    *,
    app: Celery | None = None,
    queue: str | None = None,
    start_node: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_cycles: int = DEFAULT_MAX_CYCLES,
    run_id: str | None = None,
) -> WorkflowRun:
    """Start ``workflow`` on the app's Celery workers and return at once. ``inputs`` become channel
    values (and so fill task parameters of the same name)."""
    app = resolve_app(app)
    wf = _workflow(workflow)
    context = celery_run(wf.graph, start_node, limits=RunLimits(max_steps, max_cycles), run_id=run_id,
                         name=wf.name, app=app, queue=queue)
    for key, value in (inputs or {}).items():
        context.channel.set(key, value)
    context.start(WorkflowEngine())
    run_events.run_started(app, context.run_id, wf.name, inputs)
    return WorkflowRun(context.run_id, app=app)


def resume(checkpoint: str | os.PathLike[str] | Checkpoint, *, app: Celery | None = None,
           run_id: str | None = None, queue: str | None = None) -> WorkflowRun:
    """Continue a run on the app's workers: from a checkpoint file (or ``Checkpoint``) as a new
    run - its id is ``run_id`` or a new one - or, given the id of a failed run, that run itself
    (``WorkflowRun.resume``)."""
    app = resolve_app(app)
    if isinstance(checkpoint, str) and RUN_ID_PATTERN.fullmatch(checkpoint) \
            and not os.path.exists(checkpoint):
        return WorkflowRun(checkpoint, app=app).resume()
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
    context = Runtime.for_app(app).restore(loaded, run_id=run_id, queue=queue)
    context.start(WorkflowEngine())
    return WorkflowRun(context.run_id, app=app)


def celery_run(graph: TaskGraph, start_node: str | None, *, limits: RunLimits, run_id: str | None = None,
               name: str = "workflow", app: Celery | None = None, queue: str | None = None,
               **_ignored: Any) -> ExecutionContext:
    """A new run stored in Redis (the ``"celery"`` run factory)."""
    if _ignored.get("serializer") is not None:
        raise ConfigurationError("on the Celery backend the serializer is set for the whole app: "
                                 "app.conf.graflow_pickle_key enables signed pickle")
    runtime = Runtime.for_app(resolve_app(app))
    start = graph.resolve_start(start_node)
    graph.validate()
    return runtime.new_run(graph, name, start, limits, run_id=run_id, queue=queue)
