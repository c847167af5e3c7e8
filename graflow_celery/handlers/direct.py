"""``handler="direct"`` (the default): the body runs in the thread that runs the step - a thread of
the in-process backend, or the Celery worker process that took the step's message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graflow_celery.handlers.base import TaskCall, TaskHandler

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext


class DirectTaskHandler(TaskHandler):
    def get_name(self) -> str:
        return "direct"

    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        return task.run()
