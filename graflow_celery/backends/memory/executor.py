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
Steps launched while a launch of the run is still taking steps (``recover()``, an answer to a
parked step, from another thread) join that launch's queue, and ``launch`` returns at once: the
caller of the first launch sees the run end. Otherwise - the run was resumed after its launch
ended - the steps get a launch of their own.
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


class _Launch:
    """What one launch uses. Its own object, not the executor's attributes: a run launches again
    when it is resumed in this process, maybe while the threads of the launch before are still
    winding down - each thread keeps the launch it was started for."""

    def __init__(self, engine: WorkflowEngine, context: ExecutionContext, single: bool) -> None:
        self.engine = engine
        self.context = context
        self.single = single  # every step in the launching thread, in FIFO order
        self.queue: queue.SimpleQueue[Step | None] = queue.SimpleQueue()
        self.timers: list[threading.Timer] = []
        self.stopping = threading.Event()
        self.interrupted_by: str | None = None
        self.wake = threading.Event()  # every worker thread has exited, or an interrupt came
        self.alive = 0
        self.threads: list[threading.Thread] = []
        self.parked: set[str] = set()  # steps waiting for a person, not to run in this launch
        self.open = True  # takes steps launched from outside; False once told to stop


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
        # Guards each launch's threads, parked steps and whether it is open, and which is current.
        self._lock = threading.RLock()
        self._current: _Launch | None = None  # the launch under way, if any
        self._local = threading.local()  # in a worker thread: .launch it serves, .held the step it runs next

    def _launch_here(self) -> _Launch | None:
        """The launch of this worker thread, or else the one under way."""
        return getattr(self._local, "launch", None) or self._current

    # --- the Dispatcher seam ---------------------------------------------------------------------------

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None:
        launch = self._launch_here()
        if launch is None:
            return  # no launch: the steps stay on the frontier, which the next launch sends
        if delay <= 0 and not launch.single:
            held = getattr(self._local, "held", None)  # set in a worker thread: what it runs next
            if held is not None and not held and steps:
                held.append(steps[0])
                steps = steps[1:]
        for step in steps:
            self._schedule(launch, step, delay)

    def hand_off(self, context: ExecutionContext, step: Step, task: object, args: list[object],
                 kwargs: dict[str, object]) -> bool:
        return False  # in-process: every task runs here

    def stopping(self) -> bool:
        launch = self._launch_here()
        return launch is not None and launch.stopping.is_set()

    def launch(self, engine: WorkflowEngine, context: ExecutionContext, steps: list[Step]) -> None:
        with self._lock:
            live = self._current
            if live is not None and live.open:  # the run goes on here: the steps join it
                for step in steps:
                    live.parked.discard(step.id)  # sent again: it is to run (a step answered)
                    self._enqueue(live, step)
                return
            single = self.max_workers == 1 or any(condition() for condition in _in_callers_thread)
            launch = self._current = _Launch(engine, context, single)
        try:
            self._run(launch, steps)
        finally:
            with self._lock:
                launch.open = False
                if self._current is launch:
                    self._current = None
        store = context.store
        if self._on_failure is not None and store.status() == "failed":
            context.failure_checkpoint = self._on_failure(context)
        if launch.interrupted_by is not None and store.status() == "running":
            path, _ = context.checkpoint(metadata={"reason": f"interrupted by {launch.interrupted_by}"})
            raise WorkflowInterruptedError(context.run_id, launch.interrupted_by, path)
        if launch.parked and store.status() == "running":
            path, _ = context.checkpoint(metadata={"reason": "waiting for feedback"})
            raise WorkflowParkedError(context.run_id, path, _pending(context))

    def interrupt(self, reason: str = "a shutdown") -> None:
        """Stop dispatching: running tasks finish, queued steps stay on the run's frontier."""
        launch = self._current
        if launch is not None:
            self._interrupt(launch, reason)

    # --- running -----------------------------------------------------------------------------------------

    def _run(self, launch: _Launch, steps: list[Step]) -> None:
        for step in steps:
            launch.queue.put(step)
        with self._shutdown_signals(launch):
            if launch.single:
                self._drain(launch)
            else:
                for _ in range(min(len(steps), self.max_workers) or 1):
                    self._spawn(launch)
                self._join(launch)

    def _interrupt(self, launch: _Launch, reason: str) -> None:
        launch.interrupted_by = reason
        launch.stopping.set()
        launch.wake.set()
        self._stop_all(launch)

    def _spawn(self, launch: _Launch) -> None:
        """One more worker thread, unless there are ``max_workers`` already."""
        with self._lock:
            if len(launch.threads) >= self.max_workers or launch.single:
                return
            thread = threading.Thread(target=self._drain_then_report, args=(launch,), daemon=True,
                                      name=f"graflow-{launch.context.run_id[:8]}-{len(launch.threads)}")
            launch.threads.append(thread)
            launch.alive += 1
        thread.start()

    def _join(self, launch: _Launch) -> None:
        """Wait for the worker threads; after an interrupt, at most ``shutdown_timeout`` more."""
        launch.wake.wait()  # a signal handler runs during this wait (lock waits are interruptible)
        if launch.stopping.is_set():
            deadline = time.monotonic() + self.shutdown_timeout
            with self._lock:
                threads = list(launch.threads)
            for thread in threads:
                thread.join(max(deadline - time.monotonic(), 0))

    def _drain_then_report(self, launch: _Launch) -> None:
        try:
            self._drain(launch)
        finally:
            with self._lock:
                launch.alive -= 1
                if launch.alive == 0:
                    launch.open = False  # nobody takes steps any more: a new launch must
                    launch.wake.set()

    def _drain(self, launch: _Launch) -> None:
        held: list[Step] = []
        outer = getattr(self._local, "launch", None), getattr(self._local, "held", None)
        self._local.launch, self._local.held = launch, held
        try:
            self._run_steps(launch, held)
        finally:
            self._local.launch, self._local.held = outer  # what this thread sends now goes to a queue

    def _run_steps(self, launch: _Launch, held: list[Step]) -> None:
        engine, context = launch.engine, launch.context
        store = context.store
        stopping = launch.stopping.is_set
        while True:
            step = held.pop() if held else launch.queue.get()
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
                self._stop_all(launch)
                if not isinstance(exc, Exception) and launch.single:
                    raise  # KeyboardInterrupt and the like belong to the caller's thread
                return
            if isinstance(outcome, Finished):
                pass
            elif isinstance(outcome, RetryRequest):
                self._schedule(launch, outcome.step, outcome.delay)
                store.ack_outbox(step.id, retry=True)
            elif isinstance(outcome, Interrupted):
                logger.info("run %s: step %s stopped for the shutdown; it stays on the frontier",
                            context.run_id, step.id)
            elif isinstance(outcome, Parked):
                logger.info("run %s: step %s parked, waiting for feedback %s", context.run_id, step.id,
                            outcome.key)
                with self._lock:
                    launch.parked.add(step.id)
            elif isinstance(outcome, Dropped):
                logger.debug("run %s: step %s does nothing: %s", context.run_id, step.id, outcome.reason)
            if self._stops(launch):
                return

    def _stops(self, launch: _Launch) -> bool:
        """Whether the run ended, or nothing is left to run until a person answers - then the
        launch stops taking steps. Decided under the lock that steps joining the launch take, so
        an answered step is either queued before this looks or sent to a launch of its own."""
        store = launch.context.store
        if store.status() == "running" and not launch.parked:
            return False  # the common case, without the lock: going on is never wrong
        with self._lock:
            if store.status() == "running" and not (launch.parked and set(store.frontier()) <= launch.parked):
                return False
            self._stop_all(launch)
            return True

    def _schedule(self, launch: _Launch, step: Step, delay: float) -> None:
        if delay <= 0:
            self._enqueue(launch, step)
            return
        timer = threading.Timer(delay, self._enqueue, args=(launch, step))
        timer.daemon = True
        launch.timers.append(timer)
        timer.start()

    def _enqueue(self, launch: _Launch, step: Step) -> None:
        launch.queue.put(step)
        if not launch.single and len(launch.threads) < self.max_workers:
            self._spawn(launch)  # queued work: a thread for it, if one may start

    def _stop_all(self, launch: _Launch) -> None:
        with self._lock:
            launch.open = False
        for timer in launch.timers:
            timer.cancel()
        for _ in range(self.max_workers):
            launch.queue.put(_STOP)

    @contextmanager
    def _shutdown_signals(self, launch: _Launch) -> Iterator[None]:
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
            self._interrupt(launch, name)

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
