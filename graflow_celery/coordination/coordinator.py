"""graflow's ``graflow.coordination.coordinator`` path: ``CoordinationBackend``
(``core/coordination.py``)."""

from graflow_celery.core.coordination import CoordinationBackend

__all__ = ["CoordinationBackend"]
