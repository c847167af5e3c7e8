"""Tracing a run as graflow does: ``workflow("name", tracer=ConsoleTracer())``. Tracers are
subscribers of the engine's lifecycle events (``graflow_celery.core.events``) in this process."""

from graflow_celery.trace.base import Tracer
from graflow_celery.trace.console import ConsoleTracer
from graflow_celery.trace.noop import NoopTracer

__all__ = ["ConsoleTracer", "NoopTracer", "Tracer"]
