"""``handler="celery"``: the body is an existing Celery task - the handler of ``from_celery(task)``
steps (``celery_task_step.py``), which carry the Celery task as ``celery_task``.

On the Celery backend it hands the step off: the dispatcher sends the Celery task under its own
name with its own options, and the callbacks in ``backends/celery/handoff.py`` finish the step
when it ends. No worker waits for it - Celery forbids waiting for a task inside a task: with every
pool slot waiting, nothing would run the awaited tasks. On the memory backend (whose dispatcher
hands nothing off) the body runs here, like any task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graflow_celery.errors import ConfigurationError
from graflow_celery.handlers.base import TaskCall, TaskHandler

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.task import TaskWrapper


class CeleryTaskHandler(TaskHandler):
    NAME = "celery"

    def get_name(self) -> str:
        return self.NAME

    def hand_off(self, task: TaskCall, context: ExecutionContext) -> bool:
        if not _is_celery_step(task.task):
            return False  # execute_task fails it, as the task's own error
        return context.dispatcher.hand_off(context, task.step, task.task, task.args, task.kwargs)

    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        if not _is_celery_step(task.task):
            raise ConfigurationError(f"task {task.task_id!r} has handler='celery', which runs an existing "
                                     "Celery task: make the step with "
                                     "graflow_celery.from_celery(the_celery_task)")
        return task.run()


def _is_celery_step(task: TaskWrapper) -> bool:
    return getattr(task, "celery_task", None) is not None
