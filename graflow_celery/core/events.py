"""Lifecycle events: the one seam for everything that watches runs.

The engine reports what happened to a ``Middleware`` list: a run started or finished, a step
started, finished (completed, failed, skipped, cancelled), is retrying, parked on a request for a
person, read that request's answer, a group was judged. Every
event but ``step_started`` follows a real transition and is emitted exactly once, whatever the
backend and however often a message was delivered; ``step_started`` is per execution attempt (a
step whose worker died starts again). Celery signals (``graflow_celery.signals``), tracing,
progress bars and metrics are middleware, never branches in the engine.

Subclass ``Middleware`` and override what you need (every method does nothing), then
``add_middleware(m)`` - in every process that runs steps (Celery workers too). A middleware that
raises is logged and never changes the run. Events follow their transition: a worker killed
between the two loses that event (the transition itself is never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graflow_celery.core.steps import Step
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.events")

StepOutcomeKind = Literal["completed", "failed", "skipped", "cancelled"]


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    workflow: str  # the name given to workflow(...)


@dataclass(frozen=True)
class StepInfo:
    run: RunInfo
    step: Step

    @property
    def task_id(self) -> str:
        return self.step.node


class Middleware:
    """Hooks called by the engine; override any. ``error`` is an error record (``kind``,
    ``message``, ``type``, ``task_id``... see ``core/errors_record.py``); ``exception`` the
    exception object where this process has it (the task ran here)."""

    def run_started(self, run: RunInfo) -> None:
        """Once, when a run is submitted or started in process (not when it is resumed)."""

    def run_finished(self, run: RunInfo, status: str, error: dict[str, Any] | None) -> None:
        """Once, when the run completed, failed or was cancelled."""

    def step_started(self, step: StepInfo) -> None:
        """Before a task runs: per execution attempt (a redelivered step may start twice)."""

    def step_finished(self, step: StepInfo, outcome: StepOutcomeKind, result: Any,
                      error: dict[str, Any] | None, exception: BaseException | None) -> None:
        """Once per step, when its transition is applied. ``result`` is the serialized value."""

    def step_retrying(self, step: StepInfo, delay: float, exception: BaseException) -> None:
        """Once per failed attempt that will be retried after ``delay`` seconds."""

    def group_judged(self, step: StepInfo, group_id: str, success: bool,
                     error: dict[str, Any] | None) -> None:
        """Once per parallel group, when its policy judged the members' outcomes."""

    def step_parked(self, step: StepInfo, feedback_id: str, wait: float | None) -> None:
        """Each time a step parks on a request for a person (``wait``: seconds to its deadline, or
        None): nothing is applied, no worker holds it; it runs again from its start when answered."""

    def feedback_received(self, step: StepInfo, feedback_id: str, status: str) -> None:
        """Once per request, when its task first reads its outcome: "answered" or "timed_out"."""


_middleware: list[Middleware] = []
_wanted: frozenset[str] = frozenset()  # the events some middleware overrides


def add_middleware(middleware: Middleware) -> Middleware:
    """Subscribe ``middleware`` to the lifecycle events of every run in this process."""
    if middleware not in _middleware:
        _middleware.append(middleware)
        _note_wanted()
    return middleware


def remove_middleware(middleware: Middleware) -> None:
    if middleware in _middleware:
        _middleware.remove(middleware)
        _note_wanted()


def _note_wanted() -> None:
    global _wanted
    names = [name for name, value in vars(Middleware).items() if callable(value) and not name.startswith("_")]
    _wanted = frozenset(name for m in _middleware for name in names
                        if getattr(type(m), name) is not getattr(Middleware, name))


def middleware() -> Sequence[Middleware]:
    return tuple(_middleware)


def active() -> bool:
    """Whether anything listens at all."""
    return bool(_middleware)


def wants(*events: str) -> bool:
    """Whether some middleware listens to one of ``events``: the engine builds no event nobody
    listens to (a middleware that only watches parked steps costs other steps nothing)."""
    return not _wanted.isdisjoint(events)


def emit(event: str, *args: Any) -> None:
    """Call ``event`` on every middleware; one that raises is logged, never passed on."""
    for m in _middleware:
        try:
            getattr(m, event)(*args)
        except Exception as exc:
            logger.error("middleware %s failed in %s: %s", type(m).__name__, event, describe(exc))
