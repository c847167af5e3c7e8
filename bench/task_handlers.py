"""What the ``process`` handler costs per task, against ``direct`` (the default), in process.

A chain of trivial tasks (each returns a small int) runs on the memory backend with
``max_workers=1`` - once with every task on ``handler="direct"`` and once on ``handler="process"``
(a fresh Python process per task). The workflows are defined outside the timed region; each
configuration runs ``--repeat`` times and the best wall time counts, reported per task, with the
ratio process/direct. The process chain also runs with the default ``max_workers=4`` as a
parallel group (tasks whose processes start side by side). For scale, the time a bare
``python -c "import graflow_celery"`` takes is printed: most of a child's cost is that start. The
last line is a one-line JSON summary.

    .venv/bin/python bench/task_handlers.py [--direct-tasks 1000] [--process-tasks 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import graflow_celery as gfc


def trivial() -> int:
    return 1


def chain_of(n: int, handler: str) -> gfc.WorkflowContext:
    with gfc.workflow(f"bench-{handler}-chain-{n}") as wf:
        gfc.chain(*[gfc.TaskWrapper(f"t{i}", trivial, handler=handler) for i in range(n)])
    return wf


def group_of(n: int, handler: str) -> gfc.WorkflowContext:
    with gfc.workflow(f"bench-{handler}-group-{n}") as wf:
        start, end = gfc.TaskWrapper("start", trivial), gfc.TaskWrapper("end", trivial)
        start >> gfc.parallel(*[gfc.TaskWrapper(f"m{i}", trivial, handler=handler) for i in range(n)]) >> end
    return wf


def best_of(run: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def bare_import_seconds(repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
    return best_of(lambda: subprocess.run([sys.executable, "-c", "import graflow_celery"], check=True,
                                          env=env), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--direct-tasks", type=int, default=1000)
    parser.add_argument("--process-tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n_direct, n_process = args.direct_tasks, args.process_tasks

    direct = best_of(lambda: chain_of(n_direct, "direct").execute(max_workers=1), args.repeat) / n_direct
    process_chain = chain_of(n_process, "process")
    process = best_of(lambda: process_chain.execute(max_workers=1), args.repeat) / n_process
    process_group = group_of(n_process, "process")
    group = best_of(lambda: process_group.execute(), args.repeat)
    group_per_task = (group - 2 * direct) / n_process
    bare = bare_import_seconds(args.repeat)

    print(f"graflow_celery task handlers | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"best of {args.repeat}")
    print(f"{'configuration':46} {'per task':>12}")
    print(f"{'direct, chain, max_workers=1':46} {direct * 1e6:9.1f} us")
    print(f"{'process, chain, max_workers=1':46} {process * 1e3:9.1f} ms")
    print(f"{'process, group, max_workers=4 (wall / tasks)':46} {group_per_task * 1e3:9.1f} ms")
    print(f"{'bare `python -c import graflow_celery`':46} {bare * 1e3:9.1f} ms")
    print(f"process/direct: {process / direct:,.0f}x; overhead per process task: "
          f"{(process - direct) * 1e3:.1f} ms, of which {bare * 1e3:.0f} ms is starting Python and "
          "importing graflow_celery")
    print(json.dumps({"bench": "task_handlers", "direct_tasks": n_direct, "process_tasks": n_process,
                      "repeat": args.repeat, "direct_us_per_task": direct * 1e6,
                      "process_ms_per_task": process * 1e3, "process_group_ms_per_task": group_per_task * 1e3,
                      "bare_import_ms": bare * 1e3, "ratio_process_direct": process / direct,
                      "overhead_ms_per_task": (process - direct) * 1e3}))


if __name__ == "__main__":
    main()
