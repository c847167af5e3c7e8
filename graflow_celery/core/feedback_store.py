"""Where a run's requests for feedback live (the ``FeedbackStore`` seam), and how a step parks.

A step *parks* when its request waits and its store says so (``parks``: always on Celery; on the
memory backend with ``park_on_feedback``): the request raises ``StepParked``, which no user
``except Exception`` catches; the engine turns it into a ``Parked`` outcome. Nothing is applied,
no retry is spent, the lease is released, and the step stays on the run's frontier. When the
answer is recorded, the step is sent again; it runs from its start and the request returns the
answer at once. A store that does not park blocks the task until the answer or the deadline.

A run reads "waiting" (``RunHandle.status``) while it is running and every step on its frontier
has a request waiting for an answer (parked, or blocked in process): nothing can go on until a
person answers or a deadline passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from graflow_celery.errors import ConfigurationError

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.feedback_record import FeedbackRecord
    from graflow_celery.core.steps import Step


class StepParked(BaseException):
    """Raised by a request that waits, in a step that parks (or stops waiting: a shutdown, the run
    ended). A BaseException, so that a task's ``except Exception`` does not swallow it."""

    def __init__(self, key: str, wait: float | None) -> None:
        super().__init__(f"waiting for feedback {key}")
        self.key = key
        self.wait = wait  # seconds until the request's deadline, None: no deadline


@dataclass(frozen=True)
class Parked:
    """The engine's outcome for a step that parked: nothing applied, the step stays on the
    frontier; ``wait`` seconds from now its request's deadline passes (None: it has none)."""

    step: Step
    key: str
    wait: float | None


@dataclass(frozen=True)
class Asked:
    """What making a request (or waiting for it) found: the request as the run keeps it, and the
    store's clock, in epoch ms. ``made``: this call made it (else an earlier run of the step did);
    ``first_read``: this call is the first to find it settled, answered or timed out (the record
    is marked ``read`` in the same atomic change). They say when the request's handler is told."""

    record: FeedbackRecord
    now: int
    made: bool = False
    first_read: bool = False


@dataclass(frozen=True)
class AnswerOutcome:
    """``refused``: why an answer was not taken ("unknown", "answered", "timed_out", "ended"), and
    nothing changed. Otherwise the record as answered, and the parked step to send again; ``sent``,
    if the store watches that step until it runs again (a Celery worker's sweep sends it should
    the answering process fail to): call it once the step is sent, and the store stops watching."""

    record: FeedbackRecord | None
    refused: str | None = None
    resend: Step | None = None
    sent: Callable[[], None] | None = None


class FeedbackStore(Protocol):
    parks: bool  # a waiting request parks its step (True) or blocks the task (False)
    in_run_state: bool  # the records are part of the run's state (snapshot, restore carry them)

    def ask(self, step: Step, key: str, record: FeedbackRecord) -> Asked:
        """Atomically: record ``record`` under ``key`` if there is none, else leave the one there; a
        waiting one past its deadline times out now; a settled one is marked read."""
        ...

    def wait(self, key: str, stopping: Callable[[], bool]) -> Asked:
        """Block until the request is answered or times out (and mark it read, as ``ask`` does).
        ``StepParked`` if ``stopping()`` or the run ended meanwhile."""
        ...

    def answer(self, key: str, answer: dict[str, Any]) -> AnswerOutcome:
        """Atomically: take ``answer`` if the request waits, its deadline has not passed and its run
        goes on; else change nothing."""
        ...

    def record(self, key: str) -> FeedbackRecord | None: ...

    def records(self) -> dict[str, FeedbackRecord]: ...

    def load(self, records: dict[str, FeedbackRecord]) -> None:
        """Take over a checkpoint's records (only for a store whose records are not in the state)."""
        ...

    def waiting_steps(self) -> set[str]:
        """The steps with a request waiting for an answer."""
        ...


def park_requests(context: ExecutionContext) -> None:
    """Make the run's waiting requests park their step instead of blocking its task."""
    if context.feedback is None:
        raise ConfigurationError("this run's backend keeps no feedback requests")
    context.feedback.parks = True


# Feedback stores a backend can give an in-process run by name (``MemoryBackend(feedback_backend=
# "redis", feedback_config={...})``): registered by the backend that has them, like run factories.
FeedbackFactory = Callable[[str, dict[str, Any]], FeedbackStore]
_feedback_backends: dict[str, FeedbackFactory] = {}


def register_feedback_backend(name: str, factory: FeedbackFactory) -> None:
    _feedback_backends[name] = factory


def feedback_backend(name: str) -> FeedbackFactory:
    found = _feedback_backends.get(name)
    if found is None:
        raise ConfigurationError(f"unknown feedback_backend {name!r}; known: "
                                 f"{sorted(['memory', *_feedback_backends])}")
    return found
