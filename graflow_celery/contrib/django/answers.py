"""Answering a request for feedback from a web request: only a request the user may answer
(``feedback_access``), the value read from a form or a JSON body according to the request's type
as it is stored (the form cannot change type or options), checked (``core/feedback.py``), and
taken only if the request still waits (``RunHandle.respond``). Whatever is refused raises, and
changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery
from django.http import QueryDict

from graflow_celery.backends.celery.run import WorkflowRun
from graflow_celery.core.feedback import FeedbackRequest, FeedbackResponse, FeedbackType, split_feedback_id
from graflow_celery.errors import ConfigurationError, FeedbackNotWaitingError, InvalidFeedbackError

Reader = Callable[[FeedbackRequest], Any]
Allowed = Callable[[FeedbackRequest], bool]

ID_SHAPE = "a request id looks like '<run id>:<step id>:<n>'"
# HTTP statuses of a refused answer
INVALID, NOT_WAITING, UNKNOWN, FORBIDDEN = 400, 409, 404, 403


class NotYours(Exception):
    """A request the user may not answer - or none at all: the two are refused alike, so that
    someone who may not see a request cannot learn whether it exists, nor how it stands."""

    reason = "forbidden"

    def __init__(self, feedback_id: str) -> None:
        super().__init__(f"you may not answer feedback request {feedback_id}, or there is no such request")
        self.feedback_id = feedback_id


def status_of(exc: FeedbackNotWaitingError | InvalidFeedbackError | NotYours) -> int:
    if isinstance(exc, NotYours):
        return FORBIDDEN
    if isinstance(exc, InvalidFeedbackError):
        return INVALID
    return UNKNOWN if exc.reason in ("unknown", "other_run") else NOT_WAITING


def request_run(app: Celery, feedback_id: str) -> WorkflowRun:
    """The run of a request id (``FeedbackNotWaitingError`` "unknown" if there is none)."""
    parsed = split_feedback_id(feedback_id)
    if parsed is None:
        raise FeedbackNotWaitingError(feedback_id, "unknown", ID_SHAPE)
    try:
        return WorkflowRun(parsed[0], app=app)
    except ConfigurationError as exc:  # an id outside the alphabet, a run unknown or expired
        raise FeedbackNotWaitingError(feedback_id, "unknown", str(exc)) from None


def stored(app: Celery, feedback_id: str) -> tuple[WorkflowRun, FeedbackRequest | None]:
    """A request as it is stored, whatever its status (None: its run has no such request), and its
    run (``FeedbackNotWaitingError`` "unknown" if there is none)."""
    run = request_run(app, feedback_id)
    return run, run.feedback_request(feedback_id)


def answer(app: Celery, feedback_id: str, read: Reader, *, may: Allowed, by: str,
           reason: str | None = None) -> FeedbackResponse:
    """Answer request ``feedback_id`` with what ``read`` makes of the web request for it, if ``may``
    allows it (``NotYours`` otherwise, as for a request or a run that does not exist)."""
    if split_feedback_id(feedback_id) is None:  # no request can have this id: saying so tells nothing
        raise FeedbackNotWaitingError(feedback_id, "unknown", ID_SHAPE)
    try:
        run, request = stored(app, feedback_id)
    except FeedbackNotWaitingError:
        raise NotYours(feedback_id) from None
    if request is None or not may(request):
        raise NotYours(feedback_id)
    return run.respond(feedback_id, read(request), by=by, reason=reason or None)


def from_form(data: QueryDict) -> Reader:
    """A form's ``answer`` field: "approve"/"reject" (the buttons), an option (a select), text, a
    JSON object; for a multi-selection, every ``answer`` checked (boxes)."""

    def read(request: FeedbackRequest) -> Any:
        if request.feedback_type is FeedbackType.MULTI_SELECTION:
            return request.check_answer(data.getlist("answer"))
        text = data.get("answer")
        if text is None:
            raise InvalidFeedbackError(request.feedback_id, request.feedback_type.value,
                                       "the form sent no answer")
        return request.parse_answer(text)

    return read


def from_json(body: Mapping[str, Any]) -> Reader:
    """A JSON body: ``{"value": ...}`` as the request's type takes it (true, "an option", [...],
    {...}), or ``{"answer": "..."}`` as a person types it (read like the form's field)."""

    def read(request: FeedbackRequest) -> Any:
        if "value" in body:
            return request.check_answer(body["value"])
        text = body.get("answer")
        if not isinstance(text, str):
            raise InvalidFeedbackError(request.feedback_id, request.feedback_type.value,
                                       'send {"value": ...} or {"answer": "text"}')
        return request.parse_answer(text)

    return read


def shown(kind: FeedbackType | str, value: Any) -> str:
    """An answer as a person reads it."""
    if FeedbackType(kind) is FeedbackType.APPROVAL:
        return "approved" if value else "rejected"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "{}"
    return str(value)


def when(stamp: str | None) -> dt.datetime | None:
    """An ISO 8601 time of a request or an answer, for a template's ``date`` filter."""
    return dt.datetime.fromisoformat(stamp) if stamp else None
