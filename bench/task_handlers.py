"""What the ``process`` handler costs per task, against ``direct`` (the default), in process.

A chain of trivial tasks (each returns a small int) runs on the memory backend with
``max_workers=1``: every task on ``handler="direct"``; on ``handler="process"`` (a fresh process
per task, forked by the fork server - which is started before timing, as a long-lived worker
would have it); and on a ``ProcessTaskHandler(start="spawn")`` (a new interpreter per task, the
path a Docker subclass takes). The forked ones also run as a parallel group with the default
``max_workers=4``. The workflows are defined outside the timed region; each configuration runs
``--repeat`` times and the best wall time counts, reported per task, with the ratio to direct.
For scale, the time of a bare ``python -c "import graflow_celery"`` is printed: most of what a
spawned child costs. The last line is a one-line JSON summary.

Run from the repository root (``PYTHONPATH=.`` makes this checkout's package the one imported)::

    PYTHONPATH=. .venv/bin/python bench/task_handlers.py [--direct-tasks 1000] [--process-tasks 50]
        [--spawn-tasks 10] [--repeat 3]
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
    parser.add_argument("--process-tasks", type=int, default=50)
    parser.add_argument("--spawn-tasks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gfc.register_handler("spawn", gfc.ProcessTaskHandler(start="spawn"))

    direct = best_of(lambda: chain_of(args.direct_tasks, "direct").execute(max_workers=1),
                     args.repeat) / args.direct_tasks
    forked_chain = chain_of(args.process_tasks, "process")
    forked_chain.execute(max_workers=1)  # the fork server starts (once per process)
    forked = best_of(lambda: forked_chain.execute(max_workers=1), args.repeat) / args.process_tasks
    forked_group = group_of(args.process_tasks, "process")
    group = (best_of(forked_group.execute, args.repeat) - 2 * direct) / args.process_tasks
    spawned_chain = chain_of(args.spawn_tasks, "spawn")
    spawned = best_of(lambda: spawned_chain.execute(max_workers=1), args.repeat) / args.spawn_tasks
    bare = bare_import_seconds(args.repeat)

    print(f"graflow_celery task handlers | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"best of {args.repeat}")
    rows = [("direct, chain, max_workers=1", direct),
            ("process (forked), chain, max_workers=1", forked),
            ("process (forked), group, max_workers=4", group),
            ("process (spawned), chain, max_workers=1", spawned),
            ("bare `python -c 'import graflow_celery'`", bare)]
    print(f"{'configuration':44} {'per task':>12} {'/ direct':>10}")
    for name, seconds in rows:
        print(f"{name:44} {seconds * 1e3:9.3f} ms {seconds / direct:9,.0f}x")
    print(json.dumps({"bench": "task_handlers", "direct_tasks": args.direct_tasks,
                      "process_tasks": args.process_tasks, "spawn_tasks": args.spawn_tasks,
                      "repeat": args.repeat, "direct_us_per_task": direct * 1e6,
                      "forked_ms_per_task": forked * 1e3, "forked_group_ms_per_task": group * 1e3,
                      "spawned_ms_per_task": spawned * 1e3, "bare_import_ms": bare * 1e3,
                      "ratio_forked_direct": forked / direct, "ratio_spawned_direct": spawned / direct}))


if __name__ == "__main__":
    main()
