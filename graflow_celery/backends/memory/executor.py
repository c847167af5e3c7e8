"""Runs an in-process workflow on a small thread pool, and stops it gracefully.

Ready steps go through one FIFO queue; ``max_workers`` threads take steps from it and run them
through the engine. With ``max_workers=1`` everything runs in the calling thread, in FIFO order.
``launch`` returns when the run has ended - or, after SIGINT or SIGTERM, once the running tasks
have finished (at most ``shutdown_timeout`` seconds): then it writes a checkpoint of the run and
raises ``WorkflowInterruptedError`` with its path. Resuming that checkpoint finishes the run.
Steps that park waiting for a person (``park_on_feedback``) stay on the frontier; once nothing
but parked steps is left, ``launch`` writes a checkpoint and raises ``WorkflowParkedError``.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from graflow_celery.core import events
from graflow_celery.core.admission import Dropped
from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.engine import Interrupted, RetryRequest, WorkflowEngine
from graflow_celery.core.events import RunInfo
from graflow_celery.core.feedback_store import Parked
from graflow_celery.core.steps import Step
from graflow_celery.errors import ConfigurationError, WorkflowInterruptedError, WorkflowParkedError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.memory")

_STOP = None
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class LocalExecutor:
    """The dispatcher of one in-process run."""

    def __init__(self, max_workers: int, shutdown_timeout: float = 30.0,
                 on_failure: Callable[[ExecutionContext], Any] | None = None) -> None:
        if max_workers < 1:
            raise ConfigurationError(f"max_workers must be >= 1, got {max_workers}")
        if shutdown_timeout < 0:
            raise ConfigurationError(f"shutdown_timeout must be >= 0, got {shutdown_timeout}")
        self.max_workers = max_workers
        self.shutdown_timeout = shutdown_timeout
        self._on_failure = on_failure  # keeps a checkpoint of a failed run on its context
        self._alive_lock = threading.Lock()
        self._fresh()

    def _fresh(self) -> None:
        """What one launch uses; a run launches again when it is resumed in this process."""
        self._queue: queue.SimpleQueue[Step | None] = queue.SimpleQueue()
        self._timers: list[threading.Timer] = []
        self._stopping = threading.Event()
        self._interrupted_by: str | None = None
        self._wake = threading.Event()  # every worker thread has exited, or an interrupt came
        self._alive = 0
        self._parked: set[str] = set()  # steps waiting for a person, not to run in this launch

    # --- the Dispatcher seam ---------------------------------------------------------------------------

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None:
        for step in steps:
            self._schedule(step, delay)

    def hand_off(self, context: ExecutionContext, step: Step, task: object, args: list[object],
                 kwargs: dict[str, object]) -> bool:
        return False  # in-process: every task runs here

    def stopping(self) -> bool:
        return self._stopping.is_set()

    def launch(self, engine: WorkflowEngine, context: ExecutionContext, steps: list[Step]) -> None:
        self._fresh()  # nothing is left of an earlier launch (its stop markers, an interrupt)
        for step in steps:
            self._queue.put(step)
        with self._shutdown_signals():
            if self.max_workers == 1:
                self._drain(engine, context)
            else:
                threads = [threading.Thread(target=self._drain_then_report, args=(engine, context),
                                            daemon=True, name=f"graflow-{context.run_id[:8]}-{i}")
                           for i in range(self.max_workers)]
                self._alive = len(threads)
                for thread in threads:
                    thread.start()
                self._join(threads)
        if self._on_failure is not None and context.store.status() == "failed":
            context.failure_checkpoint = self._on_failure(context)
        if self._interrupted_by is not None and context.store.status() == "running":
            path, _ = context.checkpoint(metadata={"reason": f"interrupted by {self._interrupted_by}"})
            raise WorkflowInterruptedError(context.run_id, self._interrupted_by, path)
        if self._parked and context.store.status() == "running":
            path, _ = context.checkpoint(metadata={"reason": "waiting for feedback"})
            raise WorkflowParkedError(context.run_id, path, _pending(context))

    def interrupt(self, reason: str = "a shutdown") -> None:
        """Stop dispatching: running tasks finish, queued steps stay on the run's frontier."""
        self._interrupted_by = reason
        self._stopping.set()
        self._wake.set()
        self._stop_all()

    # --- running -----------------------------------------------------------------------------------------

    def _join(self, threads: list[threading.Thread]) -> None:
        """Wait for the worker threads; after an interrupt, at most ``shutdown_timeout`` more."""
        self._wake.wait()  # a signal handler runs during this wait (lock waits are interruptible)
        if self._stopping.is_set():
            deadline = time.monotonic() + self.shutdown_timeout
            for thread in threads:
                thread.join(max(deadline - time.monotonic(), 0))

    def _drain_then_report(self, engine: WorkflowEngine, context: ExecutionContext) -> None:
        try:
            self._drain(engine, context)
        finally:
            with self._alive_lock:
                self._alive -= 1
                if self._alive == 0:
                    self._wake.set()

    def _drain(self, engine: WorkflowEngine, context: ExecutionContext) -> None:
        store = context.store
        while not self._stopping.is_set():
            step = self._queue.get()
            if step is _STOP or self._stopping.is_set():
                return
            try:
                outcome = engine.run_step(context, step)
            except BaseException as exc:  # a bug, a store error, KeyboardInterrupt: end the run
                logger.error("step %s of run %s failed outside the task: %s", step.node, context.run_id,
                             describe(exc))
                record = {"kind": "internal", "message": describe(exc), "task_id": step.node}
                if store.fail(record):
                    events.emit("run_finished", RunInfo(context.run_id, context.name), "failed", record)
                self._stop_all()
                if not isinstance(exc, Exception) and self.max_workers == 1:
                    raise  # KeyboardInterrupt and the like belong to the caller's thread
                return
            if isinstance(outcome, RetryRequest):
                self._schedule(outcome.step, outcome.delay)
                store.ack_outbox(step.id, retry=True)
            elif isinstance(outcome, Interrupted):
                logger.info("run %s: step %s stopped for the shutdown; it stays on the frontier",
                            context.run_id, step.id)
            elif isinstance(outcome, Parked):
                logger.info("run %s: step %s parked, waiting for feedback %s", context.run_id, step.id,
                            outcome.key)
                self._parked.add(step.id)
            elif isinstance(outcome, Dropped):
                logger.debug("run %s: step %s does nothing: %s", context.run_id, step.id, outcome.reason)
            if store.status() != "running" or (self._parked and set(store.frontier()) <= self._parked):
                self._stop_all()  # ended, or nothing left to run until a person answers
                return

    def _schedule(self, step: Step, delay: float) -> None:
        if delay <= 0:
            self._queue.put(step)
            return
        timer = threading.Timer(delay, self._queue.put, args=(step,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _stop_all(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for _ in range(self.max_workers):
            self._queue.put(_STOP)

    @contextmanager
    def _shutdown_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM stop the run gracefully while it runs (main thread only: Python
        delivers signals there). A second signal has its usual effect."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            logger.warning("%s: stopping the run gracefully (again to stop at once)", name)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.interrupt(name)

        for shutdown_signal in SHUTDOWN_SIGNALS:
            previous[shutdown_signal] = signal.signal(shutdown_signal, on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _pending(context: ExecutionContext) -> list[object]:
    """The requests a parked run waits for, as its handle lists them."""
    feedback = context.feedback
    if feedback is None:
        return []
    return [r.to_request(context.run_id, key) for key, r in sorted(feedback.records().items())
            if r.status == "waiting"]
