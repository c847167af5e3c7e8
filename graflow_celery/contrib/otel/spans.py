"""Spans from the lifecycle events: one per run, a child of it per step (each attempt, each
group's judgement), in whichever process the event fires.

The step span is the current span while the task runs, so spans the task's own code makes
(HTTP clients, databases) nest under it, in threads of the memory backend as on Celery workers.
The run span is made when the run finishes, with the ids its steps were children of and the
start time the run's messages carried (``run_trace``).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer
from opentelemetry.trace import Link, Span, Status, StatusCode

from graflow_celery import __version__
from graflow_celery.contrib.otel.run_trace import PresetIds, RunTrace, derive, run_ids
from graflow_celery.core.events import Middleware, RunInfo, StepInfo, StepOutcomeKind
from graflow_celery.redact import exception_message, exception_traceback

SCOPE = "graflow_celery"
_KNOWN_RUNS = 1024  # run traces a process keeps (runs it started or saw), most recent first

# Set by the Celery hooks for the message being handled: the run trace it carried, and the worker.
carried: contextvars.ContextVar[RunTrace | None] = contextvars.ContextVar("graflow_otel_run", default=None)
worker: contextvars.ContextVar[str | None] = contextvars.ContextVar("graflow_otel_worker", default=None)


@dataclass
class _Open:
    span: Span
    token: object  # to detach the step span from the context when the step ends
    thread: int


def span_name(workflow: str, step: StepInfo) -> str:
    """The name Flower shows for the step's message: ``<workflow>.<task>``, ``.judge``/``.skip``."""
    phase = step.step.phase
    return f"{workflow}.{step.step.node}" + ("" if phase == "run" else f".{phase}")


class TracingMiddleware(Middleware):
    def __init__(self, tracer_provider: Any = None) -> None:
        self._provider = tracer_provider
        self._tracer: tuple[Any, Tracer | None] | None = None  # (provider, its tracer) once resolved
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, RunTrace] = OrderedDict()
        self._open: dict[tuple[str, str, int], _Open] = {}

    # --- where spans go, and which run they belong to -------------------------------------------

    def tracer(self) -> Tracer | None:
        """The SDK tracer of the configured provider (looked up at first use, so ``instrument()``
        may come before the provider is set); None when no SDK provider is set: no spans."""
        provider = self._provider or trace.get_tracer_provider()
        if self._tracer is None or self._tracer[0] is not provider:
            found = provider.get_tracer(SCOPE, __version__)
            if isinstance(found, Tracer):
                if not isinstance(found.id_generator, PresetIds):
                    found.id_generator = PresetIds(found.id_generator)
                self._tracer = (provider, found)
            else:
                self._tracer = (provider, None)
        return self._tracer[1]

    def run_trace(self, run_id: str, workflow: str) -> RunTrace | None:
        """The run's trace: carried by the message being handled, else known here (this process
        started the run or saw it), else derived from the run id (start time unknown)."""
        found = carried.get()
        if found is not None and found.run_id == run_id:
            return found
        with self._lock:
            found = self._runs.get(run_id)
        if found is not None:
            return found
        tracer = self.tracer()
        if tracer is None:
            return None
        found = derive(tracer, run_id, workflow)
        self._remember(found)
        return found

    def known(self, run_id: str) -> RunTrace | None:
        """A run trace from the message being handled or from this process, never derived."""
        found = carried.get()
        if found is not None and found.run_id == run_id:
            return found
        with self._lock:
            return self._runs.get(run_id)

    def _remember(self, run: RunTrace) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            self._runs.move_to_end(run.run_id)
            while len(self._runs) > _KNOWN_RUNS:
                self._runs.popitem(last=False)

    # --- the run -----------------------------------------------------------------------------------

    def run_started(self, run: RunInfo) -> None:
        tracer = self.tracer()
        if tracer is None:
            return
        submitter = trace.get_current_span().get_span_context()
        self._remember(derive(tracer, run.run_id, run.workflow, time.time_ns(),
                              submitter if submitter.is_valid else None))

    def run_finished(self, run: RunInfo, status: str, error: dict[str, Any] | None) -> None:
        tracer = self.tracer()
        found = self.run_trace(run.run_id, run.workflow)
        if tracer is None or found is None:
            return
        attributes: dict[str, Any] = {"graflow.run_id": run.run_id, "graflow.workflow": run.workflow,
                                      "graflow.status": status}
        if found.start_ns is None:
            attributes["graflow.start_unknown"] = True  # no message of this run reached this process
        self._worker_attribute(attributes)
        assert isinstance(tracer.id_generator, PresetIds)
        with tracer.id_generator.preset(*run_ids(run.run_id)):
            span = tracer.start_span(run.workflow, context=Context(), attributes=attributes,
                                     links=[Link(found.link)] if found.link is not None else (),
                                     start_time=found.start_ns)
        if status == "failed":
            _failed(span, error)
        span.end()
        for key in [k for k in self._open.copy() if k[0] == run.run_id]:  # stopped, never finished
            self.abandon(key)
        with self._lock:
            self._runs.pop(run.run_id, None)

    # --- steps -----------------------------------------------------------------------------------------

    def step_started(self, step: StepInfo) -> None:
        span = self._start(step)
        if span is None:
            return
        token = otel_context.attach(trace.set_span_in_context(span))
        key = _key(step)
        previous = self._open.pop(key, None)
        if previous is not None:  # the same attempt again in this process: the first never ended
            previous.span.end()
        self._open[key] = _Open(span, token, threading.get_ident())

    def step_finished(self, step: StepInfo, outcome: StepOutcomeKind, result: Any,
                      error: dict[str, Any] | None, exception: BaseException | None) -> None:
        span = self._take(step)
        if span is None:
            return
        span.set_attribute("graflow.outcome", outcome)
        if outcome == "failed":
            _failed(span, error)
        span.end()

    def step_retrying(self, step: StepInfo, delay: float, exception: BaseException) -> None:
        span = self._take(step)
        if span is None:
            return
        span.set_attribute("graflow.outcome", "retrying")
        span.add_event("exception", _exception_event(type(exception).__name__, exception_message(exception),
                                                     exception_traceback(exception)))
        span.add_event("graflow.retry", {"graflow.retry.delay": delay,
                                         "graflow.retry.next_attempt": step.step.attempt + 1})
        span.end()

    def group_judged(self, step: StepInfo, group_id: str, success: bool,
                     error: dict[str, Any] | None) -> None:
        span = self._take(step)
        if span is None:
            return
        span.set_attribute("graflow.group_id", group_id)
        span.set_attribute("graflow.outcome", "completed" if success else "failed")
        if not success:
            _failed(span, error)
        span.end()

    def abandon(self, key: tuple[str, str, int]) -> None:
        """End a step span whose step stopped without an outcome (a shutdown, a lost race, an
        error outside the task): the step runs again elsewhere, or the run has ended."""
        entry = self._open.pop(key, None)
        if entry is None:
            return
        if entry.thread == threading.get_ident():
            otel_context.detach(entry.token)  # type: ignore[arg-type]
        entry.span.set_attribute("graflow.outcome", "unfinished")
        entry.span.end()

    def abandon_thread(self) -> None:
        """End the step spans this thread left open (a Celery message was handled)."""
        me = threading.get_ident()
        for key in [k for k, v in self._open.copy().items() if v.thread == me]:
            self.abandon(key)

    def _start(self, step: StepInfo) -> Span | None:
        tracer = self.tracer()
        run = self.run_trace(step.run.run_id, step.run.workflow)
        if tracer is None or run is None:
            return None
        s = step.step
        attributes: dict[str, Any] = {
            "graflow.run_id": step.run.run_id, "graflow.workflow": step.run.workflow,
            "graflow.task_id": s.node, "graflow.step_id": s.id, "graflow.attempt": s.attempt,
            "graflow.cycle": s.cycle}
        if s.phase != "run":
            attributes["graflow.phase"] = s.phase
        self._worker_attribute(attributes)
        return tracer.start_span(span_name(step.run.workflow, step), context=run.parent,
                                 attributes=attributes)

    def _take(self, step: StepInfo) -> Span | None:
        """The step's open span, detached from the context; or a new one, for steps that end
        without having started here (skipped, judged, handed off to a Celery task)."""
        entry = self._open.pop(_key(step), None)
        if entry is None:
            return self._start(step)
        if entry.thread == threading.get_ident():
            otel_context.detach(entry.token)  # type: ignore[arg-type]
        return entry.span

    @staticmethod
    def _worker_attribute(attributes: dict[str, Any]) -> None:
        name = worker.get()
        if name is not None:
            attributes["graflow.worker"] = name


def _key(step: StepInfo) -> tuple[str, str, int]:
    return step.run.run_id, step.step.id, step.step.attempt


def _exception_event(kind: str, message: str, stacktrace: str | None) -> dict[str, Any]:
    """OpenTelemetry's exception event; the texts are masked like every stored error."""
    event = {"exception.type": kind, "exception.message": message}
    if stacktrace:
        event["exception.stacktrace"] = stacktrace
    return event


def _failed(span: Span, error: dict[str, Any] | None) -> None:
    message = (error or {}).get("message") or "failed"
    if error is not None:
        span.add_event("exception", _exception_event(str(error.get("type") or error.get("kind") or "Error"),
                                                     str(message), error.get("traceback")))
    span.set_status(Status(StatusCode.ERROR, str(message)))
