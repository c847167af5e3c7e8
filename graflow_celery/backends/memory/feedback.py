"""Requests for feedback of an in-process run: kept in its state (``RunState.feedback``) under the
run's one lock, so a checkpoint holds them with everything else.

A waiting request blocks its task on a condition of that lock until it is answered - from any
thread, through the run's handle - or its deadline passes; every half second it also looks
whether the run ended or is shutting down, and then parks the step (it stays on the frontier,
and a checkpoint of the run holds the request). With ``park_on_feedback`` it parks at once.

The in-process runs this process holds are kept here by id (weakly: a run nobody holds goes), so
that another thread can list and answer their requests (``graflow_celery.pending_feedback()``,
``graflow_celery.local_run(run_id)``).
"""

from __future__ import annotations

import copy
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graflow_celery.core.feedback_record import WAITING, FeedbackRecord
from graflow_celery.core.feedback_store import AnswerOutcome, Asked, StepParked

if TYPE_CHECKING:
    from graflow_celery.backends.memory.store import MemoryRunStore
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.steps import Step

LOOK_AGAIN = 0.5  # seconds: how often a blocked request looks whether the run ended or stops


def now_ms() -> int:
    return int(time.time() * 1000)


class MemoryFeedback:
    in_run_state = True

    def __init__(self, store: MemoryRunStore, lock: threading.RLock) -> None:
        self.parks = False
        self._store = store
        self._changed = threading.Condition(lock)

    def _records(self) -> dict[str, FeedbackRecord]:
        return self._store.held_state().feedback

    def ask(self, step: Step, key: str, record: FeedbackRecord) -> Asked:
        with self._changed:
            now = now_ms()
            found = self._records().get(key)
            made = found is None
            if found is None:
                record.start(now, self.parks)
                found = self._records()[key] = record
            else:
                found.settle_if_late(now)
            first_read = found.mark_read()
            return Asked(copy.deepcopy(found), now, made, first_read)

    def wait(self, key: str, stopping: Callable[[], bool]) -> Asked:
        with self._changed:
            while True:
                found = self._records()[key]
                now = now_ms()
                found.settle_if_late(now)
                if found.status != WAITING:
                    first_read = found.mark_read()
                    return Asked(copy.deepcopy(found), now, first_read=first_read)
                left = None if found.deadline is None else (found.deadline - now) / 1000
                if stopping() or self._store.status() != "running":
                    raise StepParked(key, left)
                self._changed.wait(LOOK_AGAIN if left is None else max(min(left, LOOK_AGAIN), 0.001))

    def answer(self, key: str, answer: dict[str, Any]) -> AnswerOutcome:
        with self._changed:
            found = self._records().get(key)
            if found is None:
                return AnswerOutcome(None, "unknown")
            if self._store.status() != "running":
                return AnswerOutcome(copy.deepcopy(found), "ended")
            now = now_ms()
            refused = found.refusal(now)
            if refused is not None:
                return AnswerOutcome(copy.deepcopy(found), refused)
            found.take(answer, now)
            self._changed.notify_all()
            return AnswerOutcome(copy.deepcopy(found))

    def record(self, key: str) -> FeedbackRecord | None:
        with self._changed:
            found = self._records().get(key)
            return copy.deepcopy(found) if found is not None else None

    def records(self) -> dict[str, FeedbackRecord]:
        with self._changed:
            return copy.deepcopy(self._records())

    def load(self, records: dict[str, FeedbackRecord]) -> None:
        """Nothing to do: a restored state brings its records."""

    def waiting_steps(self) -> set[str]:
        with self._changed:
            return {r.step for r in self._records().values() if r.status == WAITING}


# --- the in-process runs this process holds ------------------------------------------------------------

_live: weakref.WeakValueDictionary[str, ExecutionContext] = weakref.WeakValueDictionary()
_live_lock = threading.Lock()


def track(context: ExecutionContext) -> None:
    with _live_lock:
        _live[context.run_id] = context


def live_run(run_id: str) -> ExecutionContext | None:
    with _live_lock:
        return _live.get(run_id)


def live_runs() -> list[ExecutionContext]:
    with _live_lock:
        return list(_live.values())
