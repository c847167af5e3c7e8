"""A run whose steps all run in this process, as the run handle sees it (``core/run_handle.py``):
the memory backend's runs, and a Celery app's in eager mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.steps import Step

if TYPE_CHECKING:
    from graflow_celery.channels.base import Channel
    from graflow_celery.core.backend import RunStore
    from graflow_celery.core.feedback_store import FeedbackStore
    from graflow_celery.core.graph import TaskGraph
    from graflow_celery.serialization import Serializer


class InProcessRun:
    def __init__(self, context: ExecutionContext) -> None:
        self.context = context

    @property
    def store(self) -> RunStore:
        return self.context.store

    @property
    def channel(self) -> Channel:
        return self.context.channel

    @property
    def serializer(self) -> Serializer:
        return self.context.serializer

    @property
    def feedback(self) -> FeedbackStore | None:
        return self.context.feedback

    @property
    def name(self) -> str:
        return self.context.name

    def graph(self) -> TaskGraph:
        return self.context.graph  # the run's own copy: it grows at run time

    def send(self, steps: list[Step]) -> None:
        """Runs the steps, and every step they lead to, here: returns when the run has ended - or
        at once if the run is being executed in this process now (``recover()`` or an answer from
        another thread during ``execute()``): the steps join it, and its caller sees it end."""
        self.context.dispatcher.launch(WorkflowEngine(), self.context, steps)

    def revoke(self, steps: list[Step]) -> None:
        """Nothing was sent anywhere: the executor drops what it still holds of an ended run."""

    def ended(self, status: str, record: dict[str, Any] | None) -> None:
        """Nothing to announce outside this process."""

    def checkpoint(self, path: str | None, metadata: dict[str, Any] | None) -> str:
        written, _ = self.context.checkpoint(path, metadata)
        return written

    def unavailable(self, exc: Exception) -> bool:
        return False  # the state is in this process: never out of reach
