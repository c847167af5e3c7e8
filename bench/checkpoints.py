"""Checkpoint benchmark: how long a checkpoint takes to write and to restore, and how big it is,
for a run with 10,000 results and a 1 MB channel - ours in process, ours on Celery, and the
public ``graflow`` package's CheckpointManager on the same run, in one script.

* ours, memory:  ``CheckpointManager.create_checkpoint(context)`` of a finished 10,000-task chain
  whose last task wrote 1,024 channel keys of 1 KB; restore = ``resume_from_checkpoint(path)``
  (read, check, rebuild the graph and the state; the run itself is not executed).
* ours, celery:  ``run.checkpoint(path)`` of the same state on a private redis-server (a
  10,000-wide group, which runs faster than a chain on workers); restore =
  ``graflow_celery.resume(path)`` (read, check, write a new run's state to Redis).
* graflow 0.2.0: its ``CheckpointManager`` on its own finished 10,000-task chain with the same
  channel (it pickles the whole context; the .pkl, .state.json and .meta.json files are counted).

Best of ``--repeat`` for each time; sizes in bytes on disk. Install graflow to include it (not a
dependency): ``.venv/bin/pip install graflow``. Run from the repository root::

    .venv/bin/python bench/checkpoints.py [--results 10000] [--channel-kb 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as bench/checkpoints.py

import graflow_celery as ours

KB = "x" * 1024
CHANNEL_KB = 1024  # set from --channel-kb


def step(i: int = 0) -> int:
    return i


def fill(ctx: Any) -> int:
    """The last task: writes ``CHANNEL_KB`` channel keys of 1 KB each."""
    channel = ctx.get_channel()
    for i in range(CHANNEL_KB):
        channel.set(f"blob{i}", KB)
    return CHANNEL_KB


def best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        value = action()
        best = min(best, time.perf_counter() - began)
    return best, value


def size_of(paths: list[str]) -> int:
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))


# --- ours, in process -----------------------------------------------------------------------------


def ours_memory(n: int, kb: int, repeat: int, out: Path) -> dict[str, Any]:
    with ours.workflow("bench_checkpoint_memory") as wf:
        ours.chain(*[ours.TaskWrapper(f"s{i}", step) for i in range(n)],
                   ours.TaskWrapper("fill", fill, inject_context=True))
    _, context = wf.execute(ret_context=True, max_workers=1, max_steps=n + 10)
    path = str(out / "ours-memory.json")
    write, _ = best_of(repeat, lambda: ours.CheckpointManager.create_checkpoint(context, path=path))
    restore, (restored, _) = best_of(repeat, lambda: ours.CheckpointManager.resume_from_checkpoint(path))
    assert len(restored.results()) == n + 1 and len(restored.channel.keys()) == kb
    return {"write_s": write, "restore_s": restore, "bytes": size_of([path])}


# --- ours, on Celery workers ----------------------------------------------------------------------------


def ours_celery(n: int, kb: int, repeat: int, out: Path) -> dict[str, Any]:
    from bench.celery_overhead import APP_MODULE, REDIS_URL_ENV, WorkerPool  # the same set-up as that bench
    from tests.support.redis_server import RedisServer

    server = RedisServer().start()
    os.environ[REDIS_URL_ENV] = server.url  # read by the bench app at import, here and in the workers
    bench_app = importlib.import_module(APP_MODULE)

    pool = WorkerPool(server.url, count=2, concurrency=2, pool="prefork", loglevel="WARNING",
                      log_dir=Path(tempfile.mkdtemp(prefix="graflow-cp-bench-")), acks_late=False)
    try:
        pool.start()
        pool.wait_ready(bench_app.app)
        run = ours.submit(bench_app.checkpoint_workflow(n, kb), app=bench_app.app, max_steps=n + 10)
        assert run.wait(timeout=600) == "completed"
        path = str(out / "ours-celery.json")
        write, _ = best_of(repeat, lambda: run.checkpoint(path))
        restore, resumed = best_of(repeat, lambda: ours.resume(path, app=bench_app.app))
        assert len(resumed.results()) == n + 2  # the members, the group, the fill task
        keys = len(redis.Redis.from_url(server.url).keys("gfc:*:meta"))
        return {"write_s": write, "restore_s": restore, "bytes": size_of([path]), "runs_in_redis": keys}
    finally:
        pool.stop()
        server.stop()


# --- graflow -----------------------------------------------------------------------------------------------


def graflow_side(n: int, kb: int, repeat: int, out: Path) -> dict[str, Any] | None:
    if importlib.util.find_spec("graflow") is None:
        return None
    from graflow.core.checkpoint import CheckpointManager
    from graflow.core.task import TaskWrapper, chain
    from graflow.core.workflow import workflow

    with workflow("bench_checkpoint_graflow") as wf:
        chain(*[TaskWrapper(f"s{i}", step) for i in range(n)],
              TaskWrapper("fill", fill, inject_context=True))
    _, context = wf.execute(ret_context=True, max_steps=n + 10)
    base = str(out / "graflow")
    write, (path, _) = best_of(repeat, lambda: CheckpointManager.create_checkpoint(context, path=base))
    restore, _ = best_of(repeat, lambda: CheckpointManager.resume_from_checkpoint(path))
    files = [f"{base}.pkl", f"{base}.state.json", f"{base}.meta.json"]
    return {"write_s": write, "restore_s": restore, "bytes": size_of(files)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--channel-kb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-celery", action="store_true")
    args = parser.parse_args()
    global CHANNEL_KB
    CHANNEL_KB = args.channel_kb
    out = Path(tempfile.mkdtemp(prefix="graflow-cp-bench-"))
    sides: dict[str, dict[str, Any] | None] = {
        "ours, memory": ours_memory(args.results, args.channel_kb, args.repeat, out),
        "ours, celery": None if args.no_celery else ours_celery(args.results, args.channel_kb, args.repeat,
                                                                 out),
        "graflow 0.2.0": graflow_side(args.results, args.channel_kb, args.repeat, out),
    }
    print(f"checkpoint of a run with {args.results:,} results and a {args.channel_kb} KB channel; "
          f"best of {args.repeat}")
    print(f"{'side':<16}{'write ms':>10}{'restore ms':>12}{'size KB':>10}")
    for name, found in sides.items():
        if found is None:
            print(f"{name:<16}{'(not run)':>10}")
            continue
        print(f"{name:<16}{found['write_s'] * 1e3:>10.0f}{found['restore_s'] * 1e3:>12.0f}"
              f"{found['bytes'] / 1024:>10.0f}")
    base = sides["graflow 0.2.0"]
    if base is not None:
        for name in ("ours, memory", "ours, celery"):
            mine = sides[name]
            if mine is not None:
                print(f"{name} / graflow: write {mine['write_s'] / base['write_s']:.2f}x, "
                      f"restore {mine['restore_s'] / base['restore_s']:.2f}x, "
                      f"size {mine['bytes'] / base['bytes']:.2f}x")
    print(json.dumps({"bench": "checkpoints", "results": args.results, "channel_kb": args.channel_kb,
                      "repeat": args.repeat, "sides": sides}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
