"""graflow's ``graflow.core.decorators`` path: ``from graflow_celery.core.decorators import task``."""

from graflow_celery.core.task import task

__all__ = ["task"]
