"""How a task's steps are sent and run: one value, read by the decorator, the graph codec, the
dispatcher and the engine (a new option touches this file only).

``@task(queue="gpu", priority=5, time_limit=60, soft_time_limit=50, countdown=2)``. On Celery each
becomes the step message's option of the same name; in process they are accepted and have no
effect. (Celery's ``expires`` is not offered: a broker drops an expired message silently, which
would leave the run waiting for its step; failing the step instead needs the time the step was
made ready, kept in the run's state - not yet done.)

``@task(handler="process")`` names the ``TaskHandler`` that runs the task's body (``handlers/``;
graflow's option). It is stored with the graph, so a Celery worker looks the same name up in its
own process; it is not a message option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from graflow_celery.errors import GraphDefinitionError


@dataclass(frozen=True)
class TaskOptions:
    queue: str | None = None
    priority: int | None = None  # 0-255, as the broker supports it
    time_limit: float | None = None  # seconds; the worker kills the task after it
    soft_time_limit: float | None = None  # seconds; SoftTimeLimitExceeded is raised in the task
    countdown: float | None = None  # seconds to wait before the step runs
    handler: str | None = None  # the TaskHandler that runs the body; None: "direct"

    def __post_init__(self) -> None:
        if self.queue is not None and (not isinstance(self.queue, str) or not self.queue):
            raise GraphDefinitionError(f"queue must be a non-empty string, got {self.queue!r}")
        if self.handler is not None and (not isinstance(self.handler, str) or not self.handler):
            raise GraphDefinitionError(f"handler must be the non-empty name of a registered TaskHandler, "
                                       f"got {self.handler!r}")
        priority = self.priority
        if priority is not None and (not _is_number(priority) or not isinstance(priority, int)
                                     or not 0 <= priority <= 255):
            raise GraphDefinitionError(f"priority must be a whole number from 0 to 255, got {priority!r}")
        for name in ("time_limit", "soft_time_limit", "countdown"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or value < 0
                                      or (value == 0 and name != "countdown")):
                raise GraphDefinitionError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.time_limit and self.soft_time_limit and self.soft_time_limit >= self.time_limit:
            raise GraphDefinitionError(f"soft_time_limit ({self.soft_time_limit}) must be below time_limit "
                                       f"({self.time_limit})")

    @classmethod
    def of(cls, task_id: str, options: dict[str, Any]) -> TaskOptions:
        """Options given to ``@task(...)`` or ``TaskWrapper(...)``; an unknown one names the task."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise GraphDefinitionError(
                f"task {task_id!r}: unknown option(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**options)
        except GraphDefinitionError as exc:
            raise GraphDefinitionError(f"task {task_id!r}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The options that are set (how the graph stores them)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def message_options(self) -> dict[str, Any]:
        """Celery ``apply_async`` options of a step message (the queue is routed separately)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("queue", "handler")}


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)
