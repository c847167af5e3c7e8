"""An existing Celery task as a workflow step: ``from_celery(my_task)``, a task whose handler is
``celery`` (``handlers/celery_task.py``): on the Celery backend it is sent under its own name with
its own options, and the callbacks in ``backends/celery/handoff.py`` finish the step; on the memory
backend it runs in-process like any task.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from graflow_celery.core.task import TaskWrapper
from graflow_celery.core.task_options import TaskOptions
from graflow_celery.handlers.celery_task import CeleryTaskHandler


class CeleryTaskStep(TaskWrapper):
    """A workflow step that is an existing Celery task. Arguments are filled like any task's
    (bound kwargs, upstream results, channel); ``options`` go to ``apply_async``."""

    def __init__(self, celery_task: Task, task_id: str | None = None, *,
                 options: dict[str, Any] | None = None, bound_kwargs: dict[str, Any] | None = None,
                 register: bool = True) -> None:
        super().__init__(task_id or celery_task.name.rsplit(".", 1)[-1], celery_task.run,
                         bound_kwargs=bound_kwargs, register=register,
                         task_options=TaskOptions(handler=CeleryTaskHandler.NAME))
        self.celery_task = celery_task
        self.celery_options = dict(options or {})

    def with_id(self, task_id: str, **bound_kwargs: Any) -> CeleryTaskStep:
        return CeleryTaskStep(self.celery_task, task_id, options=self.celery_options,
                              bound_kwargs={**self.bound_kwargs, **bound_kwargs})


def from_celery(celery_task: Task, task_id: str | None = None, **options: Any) -> CeleryTaskStep:
    """Use an existing Celery task as a workflow step; its return value flows on like any result."""
    return CeleryTaskStep(celery_task, task_id, options=options)
