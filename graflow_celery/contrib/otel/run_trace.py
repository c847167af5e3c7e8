"""A run's trace: its identity derived from the run id, and its context carried in messages.

There is no master process to hold a run's span open, so every process must be able to name it
alone. The trace id and the run span's id are therefore derived from the run id (a SHA-256): the
worker that applies a run's last transition ends the run span with the very ids its steps were
children of, and a step sent without our header (re-sent by the lease sweep, ``recover()``, a
resumed run) still joins the right trace. What cannot be derived travels in a message header
(``HEADER``), written by ``before_task_publish`` and read back in ``task_prerun``: the run span's
context as a W3C ``traceparent`` (its flags say whether the run is sampled), when the run started
(the run span's start time) and the span that submitted it (a link).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

HEADER = "graflow_trace"  # a Celery message header: {"traceparent", "run_id", "start", "link"}

_W3C = TraceContextTextMapPropagator()  # always W3C: both ends of this header are ours


def run_ids(run_id: str) -> tuple[int, int]:
    """(trace id, run span id) of a run: the same in every process."""
    digest = hashlib.sha256(f"graflow-run:{run_id}".encode()).digest()
    return int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:24], "big") or 1


def trace_id(run_id: str) -> str:
    """The trace id of a run, as the 32 hex digits tracing backends show (to link a run to its trace)."""
    return format_trace_id(run_ids(run_id)[0])


@dataclass(frozen=True)
class RunTrace:
    run_id: str
    context: SpanContext  # the run span's; its flags say whether the run is sampled
    start_ns: int | None = None  # when the run started, where known
    link: SpanContext | None = None  # the span current when the run was submitted
    parent: Context = field(init=False, compare=False)  # for the run's step spans

    def __post_init__(self) -> None:
        object.__setattr__(self, "parent", trace.set_span_in_context(NonRecordingSpan(self.context)))

    def header(self) -> dict[str, str]:
        carrier: dict[str, str] = {"run_id": self.run_id}
        _W3C.inject(carrier, context=self.parent)
        if self.start_ns is not None:
            carrier["start"] = str(self.start_ns)
        if self.link is not None:
            linked: dict[str, str] = {}
            _W3C.inject(linked, context=trace.set_span_in_context(NonRecordingSpan(self.link)))
            carrier["link"] = linked["traceparent"]
        return carrier


def derive(tracer: Tracer, run_id: str, workflow: str, start_ns: int | None = None,
           link: SpanContext | None = None) -> RunTrace:
    """A run's trace from its id; sampled as the tracer's sampler decides for the run span (the
    same decision in every process for the usual samplers, which look at the trace id only)."""
    tid, sid = run_ids(run_id)
    decision = tracer.sampler.should_sample(Context(), tid, workflow).decision
    flags = TraceFlags(TraceFlags.SAMPLED if decision.is_sampled() else TraceFlags.DEFAULT)
    return RunTrace(run_id, SpanContext(tid, sid, is_remote=True, trace_flags=flags), start_ns, link)


def from_header(raw: Any) -> RunTrace | None:
    """The run trace a message carries, or None when it carries none, or one that is malformed or
    does not match its run id (a message is not trusted to redirect a run's spans)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("run_id"), str):
        return None
    run_id: str = raw["run_id"]
    context = _span_context({k: raw[k] for k in ("traceparent", "tracestate") if isinstance(raw.get(k), str)})
    if context is None or (context.trace_id, context.span_id) != run_ids(run_id):
        return None
    start = raw.get("start")
    link = raw.get("link")
    return RunTrace(run_id, context,
                    int(start) if isinstance(start, str) and start.isdigit() else None,
                    _span_context({"traceparent": link}) if isinstance(link, str) else None)


def _span_context(carrier: dict[str, str]) -> SpanContext | None:
    found = trace.get_current_span(_W3C.extract(carrier, context=Context())).get_span_context()
    return found if found.is_valid else None


class PresetIds(IdGenerator):
    """The tracer's own id generator, except inside ``preset``: then the ids given. This is how
    the run span gets the ids its steps were children of, in whichever process the run ends."""

    def __init__(self, inner: IdGenerator) -> None:
        self.inner = inner
        self._preset = threading.local()

    @contextmanager
    def preset(self, trace_id: int, span_id: int) -> Iterator[None]:
        self._preset.ids = (trace_id, span_id)
        try:
            yield
        finally:
            self._preset.ids = None

    def generate_span_id(self) -> int:
        ids = getattr(self._preset, "ids", None)
        return ids[1] if ids else self.inner.generate_span_id()

    def generate_trace_id(self) -> int:
        ids = getattr(self._preset, "ids", None)
        return ids[0] if ids else self.inner.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        if getattr(self._preset, "ids", None):
            return False  # derived from the run id: uniformly spread, but not random
        return bool(getattr(self.inner, "is_trace_id_random", lambda: False)())
