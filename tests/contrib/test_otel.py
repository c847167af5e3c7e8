"""OpenTelemetry tracing (graflow_celery.contrib.otel): one trace per run, the run span and a
child per step attempt - in process, and across two real workers that never talk to each other."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import graflow_celery
from graflow_celery import ParallelGroupError
from graflow_celery.contrib import otel
from graflow_celery.contrib.otel.run_trace import HEADER, derive, from_header, run_ids
from graflow_celery.contrib.otel.spans import TracingMiddleware
from graflow_celery.core import engine, events
from graflow_celery.core.events import RunInfo, StepInfo
from graflow_celery.core.steps import Step
from tests.support import otel_flows
from tests.support.otel_setup import exported, span_record
from tests.support.redis_server import RedisServer
from tests.support.workers import Worker

STEP_SPANS = Counter({"order_pipeline.prepare": 1, "order_pipeline.charge": 1, "order_pipeline.ship": 1,
                      "order_pipeline.notify": 2, "order_pipeline.fan.judge": 1})  # notify: two attempts

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))


@pytest.fixture
def traced() -> Iterator[TracingMiddleware]:
    """This process traced into EXPORTER (the tasks' own spans too: it is the global provider)."""
    trace.set_tracer_provider(PROVIDER)  # once per process; later calls are ignored, with a warning
    EXPORTER.clear()
    try:
        yield otel.instrument(PROVIDER)
    finally:
        otel.uninstrument()


def wait_for(what: str, predicate: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def check_run_trace(spans: list[dict[str, Any]], run_id: str, submitter: Any) -> dict[str, Any]:
    """The shape every backend must give a failed order_pipeline run; returns the spans by name."""
    mine = [s for s in spans if s["attributes"].get("graflow.run_id") == run_id]
    assert {s["trace_id"] for s in mine} == {otel.trace_id(run_id)}  # one trace, named by the run id
    assert not [s for s in spans if s["trace_id"] == otel.trace_id(run_id) and s not in mine
                and s["name"] != "card-api"]
    roots = [s for s in mine if s["parent_id"] is None]
    assert [s["name"] for s in roots] == ["order_pipeline"]
    run = roots[0]
    steps = [s for s in mine if s is not run]
    assert Counter(s["name"] for s in steps) == STEP_SPANS
    assert {s["parent_id"] for s in steps} == {run["span_id"]}  # every step a child of the run span
    # what only the submitting process knew reached the run span: its start and the submitter
    assert run["start"] <= min(s["start"] for s in steps) and run["end"] >= max(s["end"] for s in steps)
    assert "graflow.start_unknown" not in run["attributes"]
    assert run["links"] == [f"{submitter.span_id:016x}"]
    assert run["status"] == "ERROR" and run["attributes"]["graflow.status"] == "failed"

    by_name: dict[str, Any] = {s["name"]: s for s in steps}
    first, second = sorted((s for s in steps if s["name"] == "order_pipeline.notify"),
                           key=lambda s: s["attributes"]["graflow.attempt"])
    assert first["attributes"]["graflow.outcome"] == "retrying" and first["status"] == "UNSET"
    assert [e["name"] for e in first["events"]] == ["exception", "graflow.retry"]
    assert second["attributes"]["graflow.outcome"] == "failed" and second["status"] == "ERROR"
    assert second["attributes"]["graflow.attempt"] == 1
    [error] = second["events"]
    assert error["attributes"]["exception.type"] == "ValueError"
    assert "hunter2" not in str(second) and "mail server" in error["attributes"]["exception.message"]
    judge = by_name["order_pipeline.fan.judge"]
    assert judge["status"] == "ERROR" and judge["attributes"]["graflow.group_id"] == "fan"
    charge = by_name["order_pipeline.charge"]
    assert charge["attributes"]["graflow.outcome"] == "completed" and charge["status"] == "UNSET"
    assert {k: charge["attributes"][k] for k in ("graflow.workflow", "graflow.task_id", "graflow.cycle")} \
        == {"graflow.workflow": "order_pipeline", "graflow.task_id": "charge", "graflow.cycle": 0}
    assert charge["attributes"]["graflow.step_id"]
    [card_api] = [s for s in spans if s["name"] == "card-api" and s["trace_id"] == run["trace_id"]]
    assert card_api["parent_id"] == charge["span_id"]  # the task's own span nests under its step
    return by_name


def test_a_run_in_process_is_one_trace_with_a_span_per_step(traced):
    with PROVIDER.get_tracer("test").start_as_current_span("request") as request, \
            pytest.raises(ParallelGroupError):
        otel_flows.order_pipeline().execute(max_workers=4)
    spans = [span_record(s) for s in EXPORTER.get_finished_spans()]
    [run] = [s for s in spans if s["name"] == "order_pipeline"]
    check_run_trace(spans, run["attributes"]["graflow.run_id"], request.get_span_context())


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Celery, Path]]:
    """Two workers, one per queue of the workflow's group (both take the default queue), each
    exporting its spans to files in ``spans``."""
    server = RedisServer().start()
    logs, spans = tmp_path_factory.mktemp("otel-logs"), tmp_path_factory.mktemp("otel-spans")
    app = Celery("otel", broker=server.url, set_as_current=False)
    graflow_celery.install(app)
    env = {"GRAFLOW_TEST_OTEL_DIR": str(spans)}
    workers = [Worker("otel1", server.url, logs, queues="celery,otel_a", concurrency=1, extra_env=env),
               Worker("otel2", server.url, logs, queues="celery,otel_b", concurrency=1, extra_env=env)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        yield app, spans
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def test_a_run_on_two_workers_is_one_trace(traced, two_workers):
    app, directory = two_workers
    with PROVIDER.get_tracer("test").start_as_current_span("request") as request:
        run = graflow_celery.submit(otel_flows.order_pipeline(), app=app)
    assert run.wait(timeout=60) == "failed"
    wait_for("the run span", lambda: [s for s in exported(directory) if s["parent_id"] is None
                                      and s["attributes"].get("graflow.run_id") == run.id])
    spans = exported(directory)
    by_name = check_run_trace(spans, run.id, request.get_span_context())
    assert by_name["order_pipeline.charge"]["attributes"]["graflow.worker"].startswith("otel1@")
    assert by_name["order_pipeline.ship"]["attributes"]["graflow.worker"].startswith("otel2@")
    mine = [s for s in spans if s["attributes"].get("graflow.run_id") == run.id]
    assert {s["resource"]["graflow.test.worker"] for s in mine} == {"otel1", "otel2"}
    assert len({s["pid"] for s in mine}) == 2
    assert [s.name for s in EXPORTER.get_finished_spans()] == ["request"]  # the submitter's own span


# --- without a message that carries it, a run's trace is still found --------------------------------


def test_the_header_round_trips_and_a_forged_one_is_ignored():
    tracer = PROVIDER.get_tracer("test")
    run = derive(tracer, "run-1", "wf", start_ns=123, link=None)  # type: ignore[arg-type]
    header = run.header()
    assert header["traceparent"].split("-")[1] == otel.trace_id("run-1")
    assert from_header(header) == run
    assert from_header({**header, "run_id": "run-2"}) is None  # ids that are not run-2's
    assert from_header({"run_id": "run-1", "traceparent": "garbage"}) is None
    assert from_header("not a dict") is None
    assert HEADER == "graflow_trace"


def test_a_step_that_arrives_without_the_header_joins_its_run_trace(traced):
    """A step the lease sweep or recover() sent again carries no header: a worker that knows
    nothing of the run still puts its span in the run's trace, under the run span."""
    fresh = TracingMiddleware(PROVIDER)
    step = StepInfo(RunInfo("run-7", "wf"), Step(id="3", node="t"))
    fresh.step_started(step)
    fresh.step_finished(step, "completed", b"1", None, None)
    fresh.run_finished(RunInfo("run-7", "wf"), "completed", None)
    step_span, run_span = EXPORTER.get_finished_spans()
    assert (run_span.context.trace_id, run_span.context.span_id) == run_ids("run-7")
    assert step_span.parent is not None and step_span.parent.span_id == run_span.context.span_id
    assert run_span.attributes["graflow.start_unknown"] is True


def test_with_nothing_subscribed_the_engine_builds_no_step_events(monkeypatch):
    """Tracing costs nothing once uninstrumented: the engine builds no event nobody listens to."""
    built: list[StepInfo] = []

    def counted(*args: Any) -> StepInfo:
        built.append(StepInfo(*args))
        return built[-1]

    monkeypatch.setattr(events, "_middleware", [])  # this process's other subscribers (test signals)
    monkeypatch.setattr(events, "_wanted", frozenset())  # and the events they listen to
    monkeypatch.setattr(engine, "StepInfo", counted)
    otel.instrument(PROVIDER)
    otel_flows.two_steps().execute()
    assert len(built) == 4  # each task's started and finished, so the count works
    otel.uninstrument()
    built.clear()
    otel_flows.two_steps().execute()
    assert built == [] and not events.active()
