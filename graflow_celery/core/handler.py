"""graflow's ``graflow.core.handler`` path: the ``TaskHandler`` base class (``handlers/base.py``)."""

from graflow_celery.handlers import TaskHandler

__all__ = ["TaskHandler"]
