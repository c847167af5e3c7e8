"""What tracing costs per step: the in-process engine running a chain of trivial tasks with and
without ``graflow_celery.contrib.otel.instrument()``.

Configurations, each timed on the same workflow (defined once, outside the timed region):

* off:       nothing subscribed to the lifecycle events (checked: the engine builds no step event);
* sampled out: instrumented, the sampler drops every trace (the hooks run, nothing is recorded);
* on:        instrumented, every span recorded and handed to a ``BatchSpanProcessor`` whose
             exporter does nothing (what an application pays before its exporter's own cost).

Each configuration runs ``--repeat`` times with ``max_workers=1`` (everything in the calling
thread) and with the default ``max_workers=4``; the best wall time counts, reported in
microseconds per task, with the difference from "off". The batch processor is flushed after each
run, outside the timed region. Every "on" run is checked to have recorded one span per task plus
the run span. The last line is a one-line JSON summary.

    .venv/bin/python bench/otel_overhead.py [--tasks 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import graflow_celery as gc_
from graflow_celery.contrib import otel
from graflow_celery.core import engine, events


def trivial() -> int:
    return 1


class CountingExporter(SpanExporter):
    """Exports nothing; counts the spans it is given."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


@contextmanager
def counting_step_events() -> Iterator[list[None]]:
    """Counts every StepInfo the engine builds (it builds one for each step event it emits)."""
    built: list[None] = []
    original = engine.StepInfo

    class Counted(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(None)
            super().__init__(*args, **kwargs)

    engine.StepInfo = Counted  # type: ignore[misc]
    try:
        yield built
    finally:
        engine.StepInfo = original  # type: ignore[misc]


def best_of(run: Callable[[], Any], repeat: int, after: Callable[[], Any] = lambda: None) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
        after()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("graflow_celery").setLevel(logging.ERROR)
    n = args.tasks

    with gc_.workflow("bench-otel") as wf:
        gc_.chain(*[gc_.TaskWrapper(f"t{i}", trivial) for i in range(n)])
    max_steps = max(10_000, 10 * n)
    runs = {w: (lambda w=w: wf.execute("t0", max_steps=max_steps, max_workers=w)) for w in (1, 4)}

    results: dict[str, dict[int, float]] = {}
    assert not events.active(), "something else subscribed to the lifecycle events"
    with counting_step_events() as built:
        results["off"] = {w: best_of(run, args.repeat) for w, run in runs.items()}
    assert not built, f"with nothing subscribed the engine built {len(built)} step events"

    dropped = TracerProvider(sampler=ALWAYS_OFF)
    otel.instrument(dropped)
    results["sampled out"] = {w: best_of(run, args.repeat) for w, run in runs.items()}

    exporter = CountingExporter()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter, max_queue_size=4 * n)
    provider.add_span_processor(processor)
    otel.instrument(provider)
    results["on"] = {}
    for w, run in runs.items():
        before = exporter.count
        results["on"][w] = best_of(run, args.repeat, after=processor.force_flush)
        assert exporter.count - before == args.repeat * (n + 1), (exporter.count - before, args.repeat, n)
    otel.uninstrument()
    provider.shutdown()

    print(f"graflow_celery {gc_.__version__} | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"chain of {n} trivial tasks, best of {args.repeat}")
    print(f"{'configuration':<14} {'max_workers':>11} {'best ms':>9} {'us/task':>9} {'+us/task':>9}")
    summary: dict[str, Any] = {"bench": "otel_overhead", "tasks": n, "repeat": args.repeat}
    for name, by_workers in results.items():
        for w, seconds in by_workers.items():
            per = seconds / n * 1e6
            extra = per - results["off"][w] / n * 1e6
            print(f"{name:<14} {w:>11} {seconds * 1e3:>9.1f} {per:>9.1f} {extra:>+9.1f}")
            summary[f"{name.replace(' ', '_')}_workers{w}_us_per_task"] = round(per, 1)
    print()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
