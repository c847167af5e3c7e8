"""Requests for a person's feedback, as a task, a caller and a form see them: graflow's
``FeedbackType``, ``FeedbackRequest`` and ``FeedbackResponse``, and what an answer must look like.

A request is named ``<run id>:<step id>:<n>`` - the n-th request (from 0) that one execution of
the step made. The name is deterministic: when the step runs again from its start (parked on
Celery and sent again once answered, redelivered, resumed), its n-th request finds its answer.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from graflow_celery.errors import InvalidFeedbackError


class FeedbackType(Enum):
    APPROVAL = "approval"  # True or False
    TEXT = "text"  # a string
    SELECTION = "selection"  # one of the options
    MULTI_SELECTION = "multi_selection"  # a list of distinct options
    CUSTOM = "custom"  # a JSON object


def feedback_id(run_id: str, key: str) -> str:
    return f"{run_id}:{key}"


def request_key(step_id: str, n: int) -> str:
    """The request's name within its run."""
    return f"{step_id}:{n}"


def split_feedback_id(fid: object) -> tuple[str, str] | None:
    """``(run id, key)`` of a request id, or None if it cannot be one."""
    if not isinstance(fid, str):
        return None
    run_id, _, key = fid.rpartition(":")
    run_id, _, step = run_id.rpartition(":")
    if not run_id or not _number(step) or not _number(key):
        return None
    return run_id, request_key(step, int(key))


def _number(text: str) -> bool:
    """Digits 0-9 only, and few of them: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 in UTC."""
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


@dataclass(frozen=True)
class FeedbackRequest:
    """A request as it is listed: graflow's fields (``session_id`` is the run's id; ``status`` is
    "pending", "completed" or "timeout"), and where it comes from: the workflow, the step, and
    its deadline (None: it waits as long as the run lives)."""

    feedback_id: str
    task_id: str
    session_id: str
    feedback_type: FeedbackType
    prompt: str
    options: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    timeout: float | None = None
    status: str = "pending"
    channel_key: str | None = None
    write_to_channel: bool = False
    step_id: str = ""
    deadline: str | None = None
    workflow: str | None = None

    @property
    def run_id(self) -> str:
        return self.session_id

    def check_answer(self, value: Any) -> Any:
        """``value`` as the answer to keep, or ``InvalidFeedbackError`` saying what fits."""
        return check_answer(self.feedback_id, self.feedback_type, self.options, value)

    def parse_answer(self, text: str) -> Any:
        """The answer a person typed (a command line, a form field): "yes"/"no" for an approval,
        a JSON list or comma-separated options for a multi-selection, a JSON object for custom."""
        return self.check_answer(parse_answer(self.feedback_id, self.feedback_type, text))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["feedback_type"] = self.feedback_type.value
        return data


@dataclass(frozen=True)
class FeedbackResponse:
    """An answer (graflow's fields). ``value`` is whichever of them the request's type uses."""

    feedback_id: str
    response_type: FeedbackType
    approved: bool | None = None
    reason: str | None = None
    text: str | None = None
    selected: str | None = None
    selected_multiple: list[str] | None = None
    custom_data: dict[str, Any] | None = None
    responded_at: str = ""
    responded_by: str | None = None

    @property
    def value(self) -> Any:
        return {FeedbackType.APPROVAL: self.approved, FeedbackType.TEXT: self.text,
                FeedbackType.SELECTION: self.selected, FeedbackType.MULTI_SELECTION: self.selected_multiple,
                FeedbackType.CUSTOM: self.custom_data}[self.response_type]

    @classmethod
    def of(cls, fid: str, kind: FeedbackType, value: Any, *, at: str, by: str | None,
           reason: str | None) -> FeedbackResponse:
        slot = {FeedbackType.APPROVAL: "approved", FeedbackType.TEXT: "text",
                FeedbackType.SELECTION: "selected", FeedbackType.MULTI_SELECTION: "selected_multiple",
                FeedbackType.CUSTOM: "custom_data"}[kind]
        return cls(fid, kind, responded_at=at, responded_by=by, reason=reason, **{slot: value})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["response_type"] = self.response_type.value
        return data


@dataclass(frozen=True)
class FeedbackEntry:
    """One line of a run's feedback audit trail: a request answered (by whom, when, what) or
    timed out."""

    feedback_id: str
    task_id: str
    feedback_type: FeedbackType
    prompt: str
    outcome: str  # "answered" or "timed_out"
    at: str
    value: Any = None
    responded_by: str | None = None
    reason: str | None = None


# --- what an answer must look like ------------------------------------------------------------------


def check_answer(fid: str, kind: FeedbackType, options: list[str] | None, value: Any) -> Any:
    def refuse(problem: str) -> InvalidFeedbackError:
        return InvalidFeedbackError(fid, kind.value, problem)

    if kind is FeedbackType.APPROVAL:
        if not isinstance(value, bool):
            raise refuse(f"an approval is answered with True or False, got {value!r}")
        return value
    if kind is FeedbackType.TEXT:
        if not isinstance(value, str):
            raise refuse(f"a text request is answered with a string, got {type(value).__name__}")
        return value
    known = options or []
    if kind is FeedbackType.SELECTION:
        if not isinstance(value, str) or value not in known:
            raise refuse(f"the answer must be one of {known}, got {value!r}")
        return value
    if kind is FeedbackType.MULTI_SELECTION:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise refuse(f"a multi-selection is answered with a list of options, got {value!r}")
        unknown = [v for v in value if v not in known]
        if unknown:
            raise refuse(f"{unknown} are not among the options {known}")
        if len(set(value)) != len(value):
            raise refuse(f"an option is chosen twice in {list(value)}")
        return list(value)
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise refuse(f"a custom request is answered with a JSON object (a dict), got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise refuse(f"the answer is not JSON: {exc}") from None


_YES = {"true", "yes", "y", "1", "approve", "approved", "ok"}
_NO = {"false", "no", "n", "0", "reject", "rejected", "deny", "denied"}


def parse_answer(fid: str, kind: FeedbackType, text: str) -> Any:
    """What a person typed, as the value its request's type takes (checked afterwards)."""
    stripped = text.strip()
    if kind is FeedbackType.APPROVAL:
        word = stripped.lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise InvalidFeedbackError(fid, kind.value, f"answer yes or no (or approve/reject), got {text!r}")
    if kind is FeedbackType.TEXT or kind is FeedbackType.SELECTION:
        return text if kind is FeedbackType.TEXT else stripped
    if kind is FeedbackType.MULTI_SELECTION:
        if stripped.startswith("["):
            return _json(fid, kind, stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return _json(fid, kind, stripped)


def _json(fid: str, kind: FeedbackType, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidFeedbackError(fid, kind.value, f"the answer is not JSON: {exc}") from None
