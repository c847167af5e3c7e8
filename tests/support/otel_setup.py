"""Tracing in the test workers, when GRAFLOW_TEST_OTEL_DIR is set (imported by the test app's
module only then): the global TracerProvider exports every finished span as one JSON line to
``spans-<pid>.jsonl`` in that directory, so the test reads what each worker process exported.
Set up as an application would: the provider first, then ``instrument()`` with no arguments."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from graflow_celery.contrib import otel


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as plain data (ids as hex, as tracing backends show them)."""
    assert span.context is not None
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "start": span.start_time, "end": span.end_time,
        "status": span.status.status_code.name, "description": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
        "links": [f"{link.context.span_id:016x}" for link in span.links],
        "resource": dict(span.resource.attributes),
        "pid": os.getpid(),
    }


class JsonLinesExporter(SpanExporter):
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # the pid at export time: prefork pool processes inherit the provider from the parent
        with (self.directory / f"spans-{os.getpid()}.jsonl").open("a") as out:
            for span in spans:
                out.write(json.dumps(span_record(span), default=str) + "\n")
        return SpanExportResult.SUCCESS


def exported(directory: Path) -> list[dict[str, Any]]:
    """Every span the worker processes exported so far."""
    return [json.loads(line) for path in sorted(directory.glob("spans-*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


if os.environ.get("GRAFLOW_TEST_OTEL_DIR"):
    provider = TracerProvider(resource=Resource.create({
        "service.name": "graflow-test-worker",
        "graflow.test.worker": os.environ.get("GRAFLOW_WORKER_NAME", "")}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ["GRAFLOW_TEST_OTEL_DIR"])))
    trace.set_tracer_provider(provider)
    otel.instrument()
