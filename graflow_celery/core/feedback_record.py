"""One request for feedback as a run's state keeps it: plain data, the same in the memory store,
in Redis (``backends/celery/lua/feedback_*.lua`` mirror the rules below) and in a checkpoint.

A record is "waiting" from the moment it is made until it is "answered" or "timed_out"; either
is final. Times are epoch milliseconds (Redis ``TIME`` on Redis, this process's clock in memory).
An answer counts only if it arrives before the deadline: from then on the request can only time
out, which happens when its task runs again (woken at the deadline) and finds it late. Once
settled, it is marked ``read`` by the first run of its task that finds it so: that run, and no
later one, tells the request's handler of the outcome.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from graflow_celery.core.feedback import (
    FeedbackEntry,
    FeedbackRequest,
    FeedbackResponse,
    FeedbackType,
    feedback_id,
    iso,
)
from graflow_celery.errors import ConfigurationError

WAITING, ANSWERED, TIMED_OUT = "waiting", "answered", "timed_out"
# graflow's names for a request's status
SHOWN_STATUS = {WAITING: "pending", ANSWERED: "completed", TIMED_OUT: "timeout"}

# The part of a record written once, when the request is made (Lua stores it as it is).
REQUEST_FIELDS = ("task", "step", "type", "prompt", "options", "metadata", "timeout", "channel_key",
                  "write_to_channel", "workflow")


@dataclass
class FeedbackRecord:
    task: str
    step: str
    type: str
    prompt: str
    options: list[str] | None = None
    metadata: dict[str, Any] | None = None
    timeout: float | None = None  # seconds; None: as long as the run lives
    channel_key: str | None = None
    write_to_channel: bool = False
    workflow: str | None = None
    status: str = WAITING
    created: int = 0
    deadline: int | None = None
    settled: int | None = None  # answered or timed out at
    parks: bool = False  # its step parks while it waits (sent again once answered)
    answer: dict[str, Any] | None = None  # {"value", "by", "reason"}
    read: bool = False  # a run of its task has found it settled (answered or timed out)

    @classmethod
    def new(cls, *, task: str, step: str, kind: FeedbackType, prompt: str, options: list[str] | None,
            metadata: dict[str, Any] | None, timeout: float | None, channel_key: str | None,
            write_to_channel: bool, workflow: str | None) -> FeedbackRecord:
        """A request as a task makes it, checked (``ConfigurationError`` naming the problem)."""
        if not isinstance(prompt, str):
            raise ConfigurationError(f"a feedback prompt must be a string, got {type(prompt).__name__}")
        strings = isinstance(options, list) and all(isinstance(o, str) for o in options)
        if kind in (FeedbackType.SELECTION, FeedbackType.MULTI_SELECTION):
            if not options or not strings or len(set(options)) != len(options):
                raise ConfigurationError(f"a {kind.value} request needs a list of distinct option strings, "
                                         f"got {options!r}")
        elif options is not None and not strings:
            raise ConfigurationError(f"options must be a list of strings, got {options!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                    or not timeout > 0):
            raise ConfigurationError(f"timeout must be a number of seconds > 0, or None, got {timeout!r}")
        if write_to_channel and not channel_key:
            raise ConfigurationError("write_to_channel=True needs a channel_key to write the answer to")
        try:
            json.dumps(metadata or {}, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"feedback metadata must be JSON: {exc}") from None
        if metadata is not None and not isinstance(metadata, dict):
            raise ConfigurationError(f"feedback metadata must be a dict, got {type(metadata).__name__}")
        return cls(task, step, kind.value, prompt, list(options) if options is not None else None,
                   dict(metadata or {}), float(timeout) if timeout is not None else None, channel_key,
                   bool(write_to_channel), workflow)

    # --- the rules ----------------------------------------------------------------------------------

    def start(self, now: int, parks: bool) -> None:
        """Made now: it waits until its deadline."""
        self.status, self.created, self.parks = WAITING, now, parks
        self.deadline = None if self.timeout is None else now + int(self.timeout * 1000)

    def late(self, now: int) -> bool:
        return self.deadline is not None and now >= self.deadline

    def settle_if_late(self, now: int) -> bool:
        """A waiting request past its deadline times out; True if it did now."""
        if self.status == WAITING and self.late(now):
            self.status, self.settled = TIMED_OUT, now
            return True
        return False

    def refusal(self, now: int) -> str | None:
        """Why an answer cannot be taken now ("answered", "timed_out"), or None."""
        if self.status != WAITING:
            return self.status
        return TIMED_OUT if self.late(now) else None

    def take(self, answer: dict[str, Any], now: int) -> None:
        self.status, self.settled, self.answer = ANSWERED, now, answer

    def mark_read(self) -> bool:
        """A run of its task finds it: mark a settled request read; True if none did before."""
        if self.status == WAITING or self.read:
            return False
        self.read = True
        return True

    # --- as the callers see it ---------------------------------------------------------------------

    @property
    def kind(self) -> FeedbackType:
        return FeedbackType(self.type)

    def to_request(self, run_id: str, key: str) -> FeedbackRequest:
        return FeedbackRequest(
            feedback_id(run_id, key), self.task, run_id, self.kind, self.prompt, self.options,
            dict(self.metadata or {}), iso(self.created) or "", self.timeout, SHOWN_STATUS[self.status],
            self.channel_key, self.write_to_channel, self.step, iso(self.deadline), self.workflow)

    def to_response(self, run_id: str, key: str) -> FeedbackResponse:
        answer = self.answer or {}
        return FeedbackResponse.of(feedback_id(run_id, key), self.kind, answer.get("value"),
                                   at=iso(self.settled) or "", by=answer.get("by"),
                                   reason=answer.get("reason"))

    def to_entry(self, run_id: str, key: str) -> FeedbackEntry:
        answer = self.answer or {}
        return FeedbackEntry(feedback_id(run_id, key), self.task, self.kind, self.prompt, self.status,
                             iso(self.settled) or "", answer.get("value"), answer.get("by"),
                             answer.get("reason"))

    # --- as data --------------------------------------------------------------------------------------

    def request_part(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REQUEST_FIELDS}

    def state_part(self) -> dict[str, Any]:
        """What changes (small scalars: Lua encodes it), without the answer."""
        return {"status": self.status, "step": self.step, "created": self.created, "deadline": self.deadline,
                "settled": self.settled, "parks": self.parks, "read": self.read}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> FeedbackRecord:
        """``ValueError`` naming the first field that cannot be right."""
        if not isinstance(raw, dict):
            raise ValueError(f"a feedback record must be an object, not {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in raw.items() if k in known})
        FeedbackType(record.type)
        if record.status not in SHOWN_STATUS:
            raise ValueError(f"unknown feedback status {record.status!r}")
        if not isinstance(record.read, bool):
            raise ValueError(f"a feedback record's read must be true or false, got {record.read!r}")
        if not (isinstance(record.step, str) and record.step.isdigit()):
            raise ValueError(f"a feedback record's step must be a step id, got {record.step!r}")
        for name in ("created", "deadline", "settled"):
            value = getattr(record, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be epoch milliseconds, got {value!r}")
        return record

    @classmethod
    def from_parts(cls, request: bytes | str, state: bytes | str,
                   answer: bytes | str | None) -> FeedbackRecord:
        """A record from the three fields the Redis store keeps it in."""
        state_data = json.loads(state)
        return cls.from_dict({**json.loads(request), **{k: v for k, v in state_data.items() if k != "step"},
                              "answer": json.loads(answer) if answer else None})


def by_newest(records: dict[str, FeedbackRecord]) -> list[tuple[str, FeedbackRecord]]:
    """Waiting requests, newest first (then the later step, the later request)."""
    waiting = [(key, r) for key, r in records.items() if r.status == WAITING]
    return sorted(waiting, key=lambda kr: (kr[1].created, *_order(kr[0])), reverse=True)


def history(records: dict[str, FeedbackRecord]) -> list[tuple[str, FeedbackRecord]]:
    """Settled requests in the order they were settled."""
    settled = [(key, r) for key, r in records.items() if r.status != WAITING]
    return sorted(settled, key=lambda kr: (kr[1].settled or 0, *_order(kr[0])))


def _order(key: str) -> tuple[int, int]:
    step, _, n = key.partition(":")
    return int(step), int(n)
