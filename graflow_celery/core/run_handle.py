"""The handle on one run - status, wait, result(s), channel, progress, cancel, checkpoint, resume,
recover - written once for every backend.

A handle reads and changes the run through its store and its channel, the seams every backend
fills (``core/backend.py``). The little that differs between backends is asked of the
``StoredRun`` the backend composes in at the edge: how steps are sent again or stopped, how a
checkpoint is read, and which errors mean the run's state is out of reach for a while.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, Self

from graflow_celery.channels.results import ResultKeysChannel
from graflow_celery.core import events
from graflow_celery.core.context import final_result
from graflow_celery.core.events import RunInfo
from graflow_celery.core.progress import GraphShape, Progress, progress
from graflow_celery.core.run_feedback import RunFeedback
from graflow_celery.core.run_state import reopen
from graflow_celery.core.steps import Step
from graflow_celery.core.task_states import TaskState, task_states
from graflow_celery.errors import WorkflowTimeoutError
from graflow_celery.redact import describe

if TYPE_CHECKING:
    from graflow_celery.channels.base import Channel
    from graflow_celery.core.backend import RunStore
    from graflow_celery.core.feedback_store import FeedbackStore
    from graflow_celery.core.graph import TaskGraph
    from graflow_celery.serialization import Serializer

_NO_SHAPE = GraphShape()
RETRY_PAUSE = 0.5  # seconds between attempts to reach a run's state while it is out of reach


class StoredRun(Protocol):
    """One run where its backend keeps it: Redis and Celery workers (``CeleryRun``), or this
    process (``InProcessRun``)."""

    @property
    def store(self) -> RunStore: ...

    @property
    def channel(self) -> Channel: ...

    @property
    def serializer(self) -> Serializer: ...

    @property
    def feedback(self) -> FeedbackStore | None:
        """Where the run's requests for feedback live."""
        ...

    @property
    def name(self) -> str:
        """The workflow's name."""
        ...

    def graph(self) -> TaskGraph:
        """The run's graph - as submitted, plus the tasks added at run time so far."""
        ...

    def send(self, steps: list[Step]) -> None:
        """Run these frontier steps (again): ``recover`` after lost messages, and ``resume``."""
        ...

    def revoke(self, steps: list[Step]) -> None:
        """Stop steps that were sent but have not started: the run was cancelled."""
        ...

    def ended(self, status: str, record: dict[str, Any] | None) -> None:
        """The run was ended from outside (cancelled): tell whatever watches runs there."""
        ...

    def checkpoint(self, path: str | None, metadata: dict[str, Any] | None) -> str:
        """Write a checkpoint of the run as it is now; returns its path."""
        ...

    def unavailable(self, exc: Exception) -> bool:
        """Whether ``exc`` means the run's state is out of reach for a while (``wait`` rides it out)."""
        ...


class RunHandle(RunFeedback):
    """Follow and steer one run, wherever it runs. Its requests for feedback - waiting, answering
    them, the audit trail - are in ``core/run_feedback.py``."""

    def __init__(self, run: StoredRun) -> None:
        self._run = run
        self._store = run.store
        self.id = run.store.run_id

    @property
    def run_id(self) -> str:
        return self.id

    @property
    def name(self) -> str:
        return self._run.name

    def status(self) -> str:
        """"pending" (stored, not started), "running", "waiting" (running, and every step on its
        frontier waits for a person's answer), "completed", "failed", "cancelled", "discarded"
        (never started: submitted on commit, and the transaction rolled back), or "missing" (its
        state expired)."""
        status = self._store.status()
        return "waiting" if status == "running" and self.waiting() else status

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run finishes (no polling) and return its status. Rides out the run's
        state being out of reach for a while (Redis restarting, failing over)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                finished = self._store.wait(left)
                status = self.status()
            except Exception as exc:
                if not self._run.unavailable(exc):
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise WorkflowTimeoutError(f"run {self.id} did not finish within {timeout}s "
                                               f"(its state is out of reach: {describe(exc)})") from exc
                time.sleep(RETRY_PAUSE)
                continue
            if not finished:
                raise WorkflowTimeoutError(f"run {self.id} did not finish within {timeout}s")
            return status

    def result(self, timeout: float | None = None) -> Any:
        """The last task's result; raises the run's error if it failed or was cancelled."""
        self.wait(timeout)
        return final_result(self._store, self._run.serializer)

    def results(self) -> dict[str, Any]:
        """Every completed task's result, by task id."""
        loads = self._run.serializer.loads
        return {task_id: loads(raw) for task_id, raw in self._store.results().items()}

    def get_result(self, task_id: str, default: Any = None) -> Any:
        raw = self._store.result(task_id)
        return default if raw is None else self._run.serializer.loads(raw)

    def get_channel(self) -> Channel:
        """The run's channel; each task's result shows under ``<task id>.__result__``."""
        return ResultKeysChannel(self._run.channel, self)

    def progress(self) -> Progress:
        """``(done, total)`` in steps: the total is what the rest of the graph will take from where
        the run is, ``.lower_bound`` when tasks added at run time may make it more
        (``core/progress.py``); once the run has ended, the steps it took."""
        done, ready = self._store.progress()
        running = self._store.status() in ("pending", "running")
        frontier = self._store.frontier().values() if running else ()
        return progress(done, ready, running, frontier, self._store.graph_shape() if running else _NO_SHAPE)

    def graph(self) -> TaskGraph:
        """The run's graph, tasks added at run time included - for a picture
        (``core/pictures.py``). A run in Redis gives its shape only: ids, edges and groups, without
        importing any task's code."""
        return self._run.graph()

    def task_states(self) -> dict[str, TaskState]:
        """Each task's (and group's) state by id: "pending", "executing", "completed", "failed" or
        "skipped" (``core/task_states.py``)."""
        executing = self._store.executing()  # read first: a step that ends meanwhile has a result
        state, _ = self._store.snapshot(self._run.channel)
        return task_states(self.graph().nodes, state, executing)

    def cancel(self, message: str = "cancelled by run.cancel()") -> bool:
        """Cancel the run: nothing more is queued, steps not yet started are stopped and do
        nothing if they start anyway. False if the run had already finished."""
        if not self._store.cancel(message):
            return False
        record = {"kind": "cancelled", "message": message, "task_id": None}
        events.emit("run_finished", RunInfo(self.id, self.name), "cancelled", record)
        self._run.ended("cancelled", record)
        pending = list(self._store.frontier().values())
        if pending:
            self._run.revoke(pending)
        return True

    # --- durability ------------------------------------------------------------------------------------

    def checkpoint(self, path: str | None = None, metadata: dict[str, Any] | None = None) -> str:
        """Write a consistent snapshot of the run - taken atomically, even while it goes on - as a
        checkpoint document; returns its path. ``graflow_celery.resume(path)`` continues it on
        Celery, ``CheckpointManager.resume_from_checkpoint(path)`` in process."""
        return self._run.checkpoint(path, metadata)

    def resume(self) -> Self:
        """Continue this failed run after its code was fixed: the step that failed it (for a
        group: the members that failed) runs again with fresh retries; completed results stay;
        the group is judged again. Workers must have the fixed code."""
        state, _ = self._store.snapshot(self._run.channel)
        self._store.restore(reopen(state), expected_status="failed")
        self.recover()
        return self

    def recover(self) -> int:
        """Send again every step on the run's frontier, for instance after the broker lost
        messages (a flushed queue, a Redis failover). Always safe: a step that is delivered
        twice is applied once. Returns how many steps were sent."""
        if self._store.status() != "running":  # waiting too: a parked step parks again
            return 0
        steps = sorted(self._store.frontier().values(), key=lambda s: s.number)
        if steps:
            self._run.send(steps)
        return len(steps)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, status={self.status()!r})"
