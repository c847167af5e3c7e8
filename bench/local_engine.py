"""Local-engine benchmark: graflow_celery's in-process engine against the public ``graflow`` package.

What is measured, in one process, for two workflows of trivial tasks (each returns a Python
object that JSON cannot carry; in process both engines pass it on as it is):

* chain:    ``t0 >> t1 >> ... >> t{N-1}``                      (N tasks)
* parallel: ``start >> (m0 | m1 | ... | m{N-1}) >> end``       (N + 2 tasks)

Each workflow is defined once, outside the timed region; only ``wf.execute(...)`` is timed. Every
configuration executes ``--repeat`` times and the best (minimum) wall time is reported, together
with the time per executed task in microseconds and the ratio ours/graflow (lower is better; the
target is <= 1.0). Ours runs with its defaults (memory backend, ``max_workers=4`` worker threads) and
with ``max_workers=1`` (everything in the calling thread); graflow runs with its defaults (its
parallel groups use its default coordination backend, printed in the header). Each run is checked
to have called every task exactly once. Both engines get ``start_node`` explicitly, because graflow
counts the members of a group that has a predecessor as extra start nodes. The last line of output
is a one-line JSON summary.

Run from the repository root (graflow must be installed in the same environment, it is not a
dependency of this project: ``.venv/bin/pip install graflow``)::

    .venv/bin/python bench/local_engine.py [--repeat 5] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import graflow_celery as ours

SHAPES = ("chain", "parallel")
OURS_DEFAULT = "ours (defaults, max_workers=4)"
OURS_ONE = "ours (max_workers=1)"
GRAFLOW = "graflow (defaults)"

_calls: list[None] = []  # list.append is atomic under the GIL, so worker threads may share it


class Payload:
    """A plain object: no JSON, no pickle needed in process."""


PAYLOAD = Payload()


def trivial() -> Payload:
    """The body of every task: note the call and return a Python object."""
    _calls.append(None)
    return PAYLOAD


@dataclass
class Measurement:
    shape: str
    engine: str
    tasks: int
    seconds: float | None = None  # best of the repeats; None when the engine failed
    error: str | None = None

    @property
    def us_per_task(self) -> float | None:
        return None if self.seconds is None else self.seconds / self.tasks * 1e6


def task_count(shape: str, n: int) -> int:
    return n if shape == "chain" else n + 2


def start_node(shape: str) -> str:
    return "t0" if shape == "chain" else "start"


# --- building the workflows (untimed) -----------------------------------------------------------------


def build_ours(shape: str, n: int) -> ours.WorkflowContext:
    with ours.workflow(f"bench-{shape}") as wf:
        if shape == "chain":
            ours.chain(*[ours.TaskWrapper(f"t{i}", trivial) for i in range(n)])
        else:
            start, end = ours.TaskWrapper("start", trivial), ours.TaskWrapper("end", trivial)
            start >> ours.parallel(*[ours.TaskWrapper(f"m{i}", trivial) for i in range(n)]) >> end
    return wf


def build_graflow(shape: str, n: int) -> Any:
    from graflow.core.task import TaskWrapper, chain, parallel
    from graflow.core.workflow import workflow

    with workflow(f"bench-{shape}") as wf:
        if shape == "chain":
            chain(*[TaskWrapper(f"t{i}", trivial) for i in range(n)])
        else:
            start, end = TaskWrapper("start", trivial), TaskWrapper("end", trivial)
            start >> parallel(*[TaskWrapper(f"m{i}", trivial) for i in range(n)]) >> end
    return wf


def graflow_group_backend() -> str:
    """Which backend graflow's ParallelGroup uses by default, and with how many threads."""
    from graflow.coordination.executor import GroupExecutor
    from graflow.coordination.threading_coordinator import ThreadingCoordinator

    backend = GroupExecutor.DEFAULT_BACKEND.name
    if backend == "THREADING":
        return f"THREADING (thread pool of {ThreadingCoordinator().thread_count} = cpu_count threads)"
    return backend


# --- timing -------------------------------------------------------------------------------------------


def best_of(run: Callable[[], Any], expected_calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        _calls.clear()
        gc.collect()
        began = time.perf_counter()
        run()
        elapsed = time.perf_counter() - began
        if len(_calls) != expected_calls:
            raise RuntimeError(f"ran {len(_calls)} task calls, expected {expected_calls}")
        best = min(best, elapsed)
    return best


def measure(shape: str, n: int, repeat: int) -> list[Measurement]:
    tasks, start = task_count(shape, n), start_node(shape)
    max_steps = max(10_000, 10 * tasks)
    results: list[Measurement] = []

    ours_wf = build_ours(shape, n)
    ours_runs = {
        OURS_DEFAULT: partial(ours_wf.execute, start, max_steps=max_steps),
        OURS_ONE: partial(ours_wf.execute, start, max_steps=max_steps, max_workers=1),
    }
    for engine, run in ours_runs.items():
        results.append(Measurement(shape, engine, tasks, best_of(run, tasks, repeat)))

    theirs = Measurement(shape, GRAFLOW, tasks)
    try:
        graflow_wf = build_graflow(shape, n)
        theirs.seconds = best_of(partial(graflow_wf.execute, start, max_steps=max_steps), tasks, repeat)
    except Exception as exc:  # report graflow's failure and carry on
        theirs.error = f"{type(exc).__name__}: {exc}"
    results.append(theirs)
    return results


# --- reporting ----------------------------------------------------------------------------------------


def ratio(mine: Measurement, theirs: Measurement) -> float | None:
    if mine.seconds is None or theirs.seconds is None:
        return None
    return mine.seconds / theirs.seconds


def print_table(results: list[Measurement]) -> None:
    print(f"{'shape':<9} {'engine':<32} {'best ms':>9} {'us/task':>9} {'ours/graflow':>13}")
    for shape in SHAPES:
        rows = [m for m in results if m.shape == shape]
        theirs = next(m for m in rows if m.engine == GRAFLOW)
        for m in rows:
            if m.seconds is None:
                print(f"{shape:<9} {m.engine:<32} FAILED: {m.error}")
                continue
            r = ratio(m, theirs) if m.engine != GRAFLOW else None
            r_text = "-" if r is None else f"{r:.2f}"
            print(f"{shape:<9} {m.engine:<32} {m.seconds * 1e3:>9.1f} {m.us_per_task:>9.1f} {r_text:>13}")


def summary(results: list[Measurement], n: int, repeat: int, backend: str) -> dict[str, Any]:
    shapes: dict[str, Any] = {}
    for shape in SHAPES:
        by_engine = {m.engine: m for m in results if m.shape == shape}
        theirs = by_engine[GRAFLOW]
        shapes[shape] = {
            "tasks": theirs.tasks,
            "ours_default_s": by_engine[OURS_DEFAULT].seconds,
            "ours_workers1_s": by_engine[OURS_ONE].seconds,
            "graflow_s": theirs.seconds,
            "graflow_error": theirs.error,
            "ratio_default": ratio(by_engine[OURS_DEFAULT], theirs),
            "ratio_workers1": ratio(by_engine[OURS_ONE], theirs),
        }
    return {"bench": "local_engine", "n": n, "repeat": repeat, "graflow_group_backend": backend,
            "shapes": shapes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per configuration; the best counts")
    parser.add_argument("--tasks", type=int, default=1000, help="chain length and parallel group width")
    args = parser.parse_args()
    try:
        import graflow  # noqa: F401 - only checks that the comparison is possible
    except ImportError:
        print("graflow is not importable here; install it with: .venv/bin/pip install graflow",
              file=sys.stderr)
        return 2
    for name in ("graflow", "graflow_celery"):
        logging.getLogger(name).setLevel(logging.ERROR)

    backend = graflow_group_backend()
    print(f"graflow_celery {ours.__version__} vs graflow {importlib.metadata.version('graflow')} | "
          f"Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"{args.tasks} tasks per shape, best of {args.repeat}")
    print(f"graflow ParallelGroup default backend: {backend}")
    print()
    results = [m for shape in SHAPES for m in measure(shape, args.tasks, args.repeat)]
    print_table(results)
    print()
    print(json.dumps(summary(results, args.tasks, args.repeat, backend)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
