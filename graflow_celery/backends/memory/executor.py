"""Runs an in-process workflow on a small thread pool, and stops it gracefully.

Ready steps go through one FIFO queue; ``max_workers`` threads take steps from it and run them
through the engine. With ``max_workers=1`` everything runs in the calling thread, in FIFO order.
With more, a thread whose step made others ready runs the first of them itself and queues the
rest: a chain stays on one thread instead of waking another for every step; worker threads start
when there is queued work for them, up to ``max_workers``.
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
from graflow_celery.core.engine import Finished, Interrupted, RetryRequest, WorkflowEngine
from graflow_celery.core.events import RunInfo
from graflow_celery.core.feedback_store import Parked
from graflow_celery.core.steps import Step
from graflow_celery.errors import ConfigurationError, WorkflowInterruptedError, WorkflowParkedError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.memory")

_STOP = None
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Conditions under which a run keeps every step in the thread that launches it, whatever
# max_workers says: the Django app adds "a database transaction is open in this thread" - other
# threads' connections cannot see its rows, and SQLite locks them out ("database table is locked").
_in_callers_thread: list[Callable[[], bool]] = []


def run_in_callers_thread_when(condition: Callable[[], bool]) -> None:
    """While ``condition()`` is true when a run is launched, its steps run in the launching thread,
    one after another, as with ``max_workers=1`` (adding the same condition twice changes nothing)."""
    if condition not in _in_callers_thread:
        _in_callers_thread.append(condition)


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
        self._local = threading.local()  # .held: in a worker thread, the step it runs next (or none)
        self._fresh()

    def _fresh(self) -> None:
        """What one launch uses; a run launches again when it is resumed in this process."""
        self._queue: queue.SimpleQueue[Step | None] = queue.SimpleQueue()
        self._timers: list[threading.Timer] = []
        self._stopping = threading.Event()
        self._interrupted_by: str | None = None
        self._wake = threading.Event()  # every worker thread has exited, or an interrupt came
        self._alive = 0
        self._threads: list[threading.Thread] = []
        self._running: tuple[WorkflowEngine, ExecutionContext] | None = None  # what new threads run
        # Every step in the launching thread, in FIFO order: max_workers=1, or a condition holds.
        self._single = self.max_workers == 1 or any(condition() for condition in _in_callers_thread)
        self._parked: set[str] = set()  # steps waiting for a person, not to run in this launch

    # --- the Dispatcher seam ---------------------------------------------------------------------------

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None:
        if delay <= 0 and not self._single:
            held = getattr(self._local, "held", None)  # set in a worker thread: what it runs next
            if held is not None and not held and steps:
                held.append(steps[0])
                steps = steps[1:]
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
            if self._single:
                self._drain(engine, context)
            else:
                self._running = (engine, context)
                for _ in range(min(len(steps), self.max_workers) or 1):
                    self._spawn()
                self._join()
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

    def _spawn(self) -> None:
        """One more worker thread, unless there are ``max_workers`` already."""
        with self._alive_lock:
            if len(self._threads) >= self.max_workers or self._running is None:
                return
            engine, context = self._running
            thread = threading.Thread(target=self._drain_then_report, args=(engine, context), daemon=True,
                                      name=f"graflow-{context.run_id[:8]}-{len(self._threads)}")
            self._threads.append(thread)
            self._alive += 1
        thread.start()

    def _join(self) -> None:
        """Wait for the worker threads; after an interrupt, at most ``shutdown_timeout`` more."""
        self._wake.wait()  # a signal handler runs during this wait (lock waits are interruptible)
        if self._stopping.is_set():
            deadline = time.monotonic() + self.shutdown_timeout
            with self._alive_lock:
                threads = list(self._threads)
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
        held: list[Step] = []
        self._local.held = held
        try:
            self._run_steps(engine, context, held)
        finally:
            del self._local.held  # this thread drains no more: what it sends goes to the queue

    def _run_steps(self, engine: WorkflowEngine, context: ExecutionContext, held: list[Step]) -> None:
        store = context.store
        stopping = self._stopping.is_set
        while True:
            step = held.pop() if held else self._queue.get()
            if step is _STOP or stopping():
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
                if not isinstance(exc, Exception) and self._single:
                    raise  # KeyboardInterrupt and the like belong to the caller's thread
                return
            if isinstance(outcome, Finished):
                pass
            elif isinstance(outcome, RetryRequest):
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
            self._enqueue(step)
            return
        timer = threading.Timer(delay, self._enqueue, args=(step,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _enqueue(self, step: Step) -> None:
        self._queue.put(step)
        if self._running is not None and len(self._threads) < self.max_workers:
            self._spawn()  # queued work: a thread for it, if one may start

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
