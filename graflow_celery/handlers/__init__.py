"""Task handlers: how a task's body runs (``@task(handler="name")``).

Built in: ``direct`` (the default: here), ``process`` (a fresh Python process per run of the task)
and ``celery`` (an existing Celery task: ``from_celery``).
"""

from graflow_celery.errors import TaskProcessCrashed
from graflow_celery.handlers.base import TaskCall, TaskHandler, register_handler
from graflow_celery.handlers.celery_task import CeleryTaskHandler
from graflow_celery.handlers.direct import DirectTaskHandler
from graflow_celery.handlers.process import ProcessTaskHandler

register_handler("direct", DirectTaskHandler())
register_handler("process", ProcessTaskHandler())
register_handler(CeleryTaskHandler.NAME, CeleryTaskHandler())

__all__ = ["CeleryTaskHandler", "DirectTaskHandler", "ProcessTaskHandler", "TaskCall", "TaskHandler",
           "TaskProcessCrashed", "register_handler"]
