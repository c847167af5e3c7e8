"""OpenTelemetry tracing of workflow runs, built on the lifecycle events. Optional: install the
``otel`` extra (``pip install graflow-celery[otel]``).

    from graflow_celery.contrib import otel
    otel.instrument()            # after your TracerProvider is set, or pass tracer_provider=

Call it in every process: the one that submits runs, and where workers start (the module that
creates your Celery app, which workers import). Each run is one trace: a span named after the
workflow (``order_pipeline``) from submit to the end of the run, and a child per step attempt,
named like the step's Celery message (``order_pipeline.charge``, ``order_pipeline.fan.judge``),
with ``graflow.run_id``, ``graflow.workflow``, ``graflow.task_id``, ``graflow.step_id``,
``graflow.attempt``, ``graflow.cycle``, ``graflow.outcome`` and, on Celery, ``graflow.worker``.
A failed step records its exception and an error status; a retried attempt records its exception
and a ``graflow.retry`` event. The trace id is derived from the run id (``trace_id(run_id)``), so
spans from every worker join one trace without a master; the run span links to the span that was
current when the run was submitted. See ``run_trace`` for how.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from graflow_celery.contrib.otel.run_trace import HEADER, from_header, trace_id
from graflow_celery.contrib.otel.spans import TracingMiddleware, carried, worker
from graflow_celery.core.events import add_middleware, remove_middleware

__all__ = ["TracingMiddleware", "instrument", "trace_id", "uninstrument"]

_installed: TracingMiddleware | None = None


def instrument(tracer_provider: Any = None) -> TracingMiddleware:
    """Trace the runs of this process, with ``tracer_provider`` (default: the global one, looked
    up when the first span is made). Calling it again replaces the provider."""
    global _installed
    uninstrument()
    middleware = TracingMiddleware(tracer_provider)
    add_middleware(middleware)
    signals.before_task_publish.connect(_inject, weak=False, dispatch_uid=_UID)
    signals.task_prerun.connect(_extract, weak=False, dispatch_uid=_UID)
    signals.task_postrun.connect(_clear, weak=False, dispatch_uid=_UID)
    _installed = middleware
    return middleware


def uninstrument() -> None:
    global _installed
    if _installed is None:
        return
    remove_middleware(_installed)
    signals.before_task_publish.disconnect(_inject, dispatch_uid=_UID)
    signals.task_prerun.disconnect(_extract, dispatch_uid=_UID)
    signals.task_postrun.disconnect(_clear, dispatch_uid=_UID)
    _installed = None


_UID = "graflow_celery.contrib.otel"


def _inject(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Every message of a run - its steps, their retries, relays, hand-offs and their callbacks -
    carries the run's trace, when this process knows it (the root id of a run's messages is the
    run id)."""
    middleware = _installed
    if middleware is None or headers is None or not isinstance(headers.get("root_id"), str):
        return
    found = middleware.known(headers["root_id"])
    if found is not None:
        headers[HEADER] = found.header()


def _extract(task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    raw = getattr(request, HEADER, None)
    if raw is None:
        raw = (getattr(request, "headers", None) or {}).get(HEADER)
    carried.set(from_header(raw) if raw is not None else None)
    worker.set(getattr(request, "hostname", None))


def _clear(**_: Any) -> None:
    if _installed is not None:
        _installed.abandon_thread()
    carried.set(None)
    worker.set(None)
