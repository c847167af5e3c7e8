"""graflow's ``graflow.core.handlers.direct`` path: the default handler (``handlers/direct.py``)."""

from graflow_celery.handlers import DirectTaskHandler

__all__ = ["DirectTaskHandler"]
