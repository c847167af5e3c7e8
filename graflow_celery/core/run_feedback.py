"""The feedback half of a run's handle: its waiting requests, answering one, and the audit trail -
written once for every backend over the run's ``FeedbackStore``.

An answer is checked against its request (type, options) first, then taken atomically only if
the request still waits, its deadline has not passed and its run goes on - so of two answers
sent at once exactly one is taken, and a refused one changes nothing. A parked step is sent
again by whoever answered (``StoredRun.send``); a task blocked in process wakes up. Once taken, an
answer stands: if sending its step fails and the store watches the step (Celery: a worker's
deadline sweep sends it), the failure is logged and the answer returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graflow_celery.core.feedback import FeedbackEntry, FeedbackRequest, FeedbackResponse, split_feedback_id
from graflow_celery.core.feedback_record import by_newest, history
from graflow_celery.errors import ConfigurationError, FeedbackNotWaitingError
from graflow_celery.redact import describe

if TYPE_CHECKING:
    from graflow_celery.core.backend import RunStore
    from graflow_celery.core.feedback_record import FeedbackRecord
    from graflow_celery.core.feedback_store import FeedbackStore
    from graflow_celery.core.run_handle import StoredRun
    from graflow_celery.core.steps import Step

logger = logging.getLogger("graflow_celery.feedback")

_WHY = {"unknown": "this run has no such request",
        "answered": "it was answered already",
        "timed_out": "its deadline has passed",
        "ended": "its run is over"}


class RunFeedback:
    """Part of ``RunHandle``."""

    id: str
    _store: RunStore
    _run: StoredRun

    def _feedback(self) -> FeedbackStore:
        store = self._run.feedback
        if store is None:
            raise ConfigurationError(f"run {self.id} keeps no feedback requests")
        return store

    def waiting(self) -> bool:
        """Whether the run is running and every step on its frontier waits for an answer.

        Read in this order so that the answer held at one instant: the frontier first - a step
        still waiting afterwards was not applied, so no step joined the frontier in between (only
        applying a step adds steps) - then the status, which may have ended meanwhile (a run that
        ended keeps its frontier)."""
        store = self._run.feedback
        if store is None:
            return False
        frontier = {s.id for s in self._store.frontier().values()}
        return bool(frontier) and frontier <= store.waiting_steps() and self._store.status() == "running"

    def pending_feedback(self) -> list[FeedbackRequest]:
        """The run's requests waiting for an answer, newest first (none once the run is over)."""
        if self._store.status() not in ("pending", "running"):
            return []
        return [r.to_request(self.id, key) for key, r in by_newest(self._feedback().records())]

    def feedback_request(self, feedback_id: str) -> FeedbackRequest | None:
        """One request of this run by id, whatever its status (None: no such request here)."""
        parsed = split_feedback_id(feedback_id)
        if parsed is None or parsed[0] != self.id:
            return None
        found = self._feedback().record(parsed[1])
        return found.to_request(self.id, parsed[1]) if found is not None else None

    def feedback_history(self) -> list[FeedbackEntry]:
        """Every request answered (who, when, what) or timed out, in that order."""
        return [r.to_entry(self.id, key) for key, r in history(self._feedback().records())]

    def respond(self, feedback_id: str, value: Any, *, by: str | None = None,
                reason: str | None = None) -> FeedbackResponse:
        """Answer a waiting request of this run: ``InvalidFeedbackError`` if ``value`` does not fit
        it, ``FeedbackNotWaitingError`` if it is not waiting (answered, timed out, unknown, another
        run's, its run over); either way nothing changed. ``by``: who answered, kept with it."""
        return answer(self._feedback(), self.id, feedback_id, value, by=by, reason=reason,
                      send=lambda step: self._run.send([step]))


def run_of(feedback_id: object) -> str:
    """The run a request id names (``FeedbackNotWaitingError`` if it cannot be a request id)."""
    return _parsed(feedback_id)[0]


def _parsed(feedback_id: object) -> tuple[str, str]:
    parsed = split_feedback_id(feedback_id)
    if parsed is None:
        raise FeedbackNotWaitingError(str(feedback_id), "unknown",
                                      "a request id looks like '<run id>:<step id>:<n>'")
    return parsed


def answer(store: FeedbackStore, run_id: str, feedback_id: str, value: Any, *, by: str | None,
           reason: str | None, send: Callable[[Step], None] | None) -> FeedbackResponse:
    """Check ``value`` against the request, take it atomically if the request still waits, and
    send its parked step again (``send``; None: this caller cannot send steps, and so refuses a
    request whose step is parked)."""
    owner, key = _parsed(feedback_id)
    if owner != run_id:
        raise FeedbackNotWaitingError(feedback_id, "other_run", f"it belongs to run {owner}, not {run_id}")
    found = store.record(key)
    if found is None:
        raise FeedbackNotWaitingError(feedback_id, "unknown", _WHY["unknown"])
    if found.status != "waiting":
        raise _not_waiting(feedback_id, found.status, found)
    if found.parks and send is None:
        raise ConfigurationError(f"the step of request {feedback_id} is parked (on Celery workers, or in a "
                                 "checkpoint with park_on_feedback): answer it through the Celery app "
                                 "(app=...), which sends the step again, or in the checkpoint")
    checked = found.to_request(run_id, key).check_answer(value)
    outcome = store.answer(key, {"value": checked, "by": _text(by, "by"), "reason": _text(reason, "reason")})
    if outcome.refused is not None or outcome.record is None:
        raise _not_waiting(feedback_id, outcome.refused or "unknown", outcome.record)
    if outcome.resend is not None and send is not None:
        _send_again(outcome.resend, send, outcome.sent, feedback_id)
    return outcome.record.to_response(run_id, key)


def _send_again(step: Step, send: Callable[[Step], None], sent: Callable[[], None] | None,
                feedback_id: str) -> None:
    try:
        send(step)
    except Exception as exc:
        if sent is None:  # nothing else would send it
            raise
        logger.warning("feedback %s is answered, but its step %s (%s) could not be sent again now (%s): a "
                       "worker's deadline sweep sends it", feedback_id, step.id, step.node, describe(exc))
        return
    if sent is not None:
        sent()


def _not_waiting(fid: str, why: str, found: FeedbackRecord | None) -> FeedbackNotWaitingError:
    detail = _WHY.get(why, why)
    if why == "answered" and found is not None and found.answer is not None:
        detail += f" (by {found.answer.get('by') or 'someone'})"
    return FeedbackNotWaitingError(fid, why, detail)


def _text(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    return value
