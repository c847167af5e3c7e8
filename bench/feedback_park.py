"""What parking a step for a person costs on Celery, against an ordinary step.

One private ``redis-server`` (a free port) and one real worker (``--concurrency`` processes, the
test suite's app). Three batches of ``--runs`` one-step runs each, submitted all at once:

* ordinary: a step that returns at once - submit all, wait for all: ``T_ordinary``;
* parked: a step that asks for an approval - submit all, wait until every one is parked
  (listed by ``pending_feedback``): ``T_park``; answer every one (``graflow_celery.respond``, from
  this process): ``T_answer``; wait for all to finish (each step runs again from its start and
  gets its answer): ``T_resume``.

Reported per step, in wall time and in CPU time (Linux ``/proc``: this process, the worker's
processes and ``redis-server`` together - steadier than wall time on a shared machine), and as
ratios parked/ordinary: what a step that waits for a person costs over one that does not, the
person's own time excluded. Both batches include submitting and reading the result. The waits
poll every 10 ms (``pending_feedback``: that polling's CPU is counted in "park").

    .venv/bin/python bench/feedback_park.py [--runs 200] [--concurrency 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.workers import Worker  # noqa: E402


def until(condition, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(0.01)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (0 for one that is gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server = RedisServer().start()
    os.environ["GRAFLOW_TEST_REDIS_URL"] = server.url
    import graflow_celery
    from tests.contract import feedback_flows as ff
    from tests.support.celery_app import app

    worker = Worker("bench", server.url, Path(tempfile.mkdtemp()), concurrency=args.concurrency).start()
    try:
        worker.wait_ready()
        ordinary, asking = ff.ordinary(1), ff.one_approval()
        assert worker.proc is not None and server.proc is not None
        pids = [os.getpid(), worker.proc.pid, *worker.pool_pids(), server.proc.pid]
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        last = [time.perf_counter(), cpu_seconds(pids)]

        def lap() -> tuple[float, float]:
            now = [time.perf_counter(), cpu_seconds(pids)]
            wall, used = now[0] - last[0], now[1] - last[1]
            last[:] = now
            return wall, used

        def keep(name: str, wall: float, used: float) -> None:
            best[name] = min(best.get(name, wall), wall)
            cpu[name] = min(cpu.get(name, used), used)

        for repeat in range(args.repeat + 1):  # the first round warms up
            lap()
            runs = [graflow_celery.submit(ordinary, app=app) for _ in range(args.runs)]
            for run in runs:
                run.result(timeout=120)
            t_ordinary = lap()

            runs = [graflow_celery.submit(asking, app=app) for _ in range(args.runs)]
            ids = {run.id for run in runs}
            pending: list[graflow_celery.FeedbackRequest] = []

            def all_parked(ids: set[str] = ids) -> bool:
                nonlocal pending
                pending = [r for r in graflow_celery.pending_feedback(app, limit=10 * args.runs)
                           if r.run_id in ids]
                return len(pending) == args.runs

            until(all_parked)
            t_park = lap()
            for request in pending:
                graflow_celery.respond(request.feedback_id, True, by="bench", app=app)
            t_answer = lap()
            for run in runs:
                assert run.result(timeout=120) is True
            t_resume = lap()
            phases = [("ordinary", t_ordinary), ("park", t_park), ("answer", t_answer), ("resume", t_resume)]
            if repeat:
                for name, (wall, used) in phases:
                    keep(name, wall, used)
            print(f"round {repeat}: " + ", ".join(f"{n} {w:.2f}s ({c:.2f}s CPU)" for n, (w, c) in phases),
                  file=sys.stderr)
    finally:
        worker.stop()
        server.stop()

    per = {name: 1000 * seconds / args.runs for name, seconds in best.items()}
    per_cpu = {name: 1000 * seconds / args.runs for name, seconds in cpu.items()}
    total = {"wall": sum(per[n] for n in ("park", "answer", "resume")),
             "cpu": sum(per_cpu[n] for n in ("park", "answer", "resume"))}
    ratio = {"wall": total["wall"] / per["ordinary"], "cpu": total["cpu"] / per_cpu["ordinary"]}
    print(f"{args.runs} one-step runs, 1 worker x {args.concurrency} processes, best of {args.repeat} "
          "(ms per run: wall, CPU)")
    for name, label in [("ordinary", "ordinary step"), ("park", "park (submit, run, ask, park)"),
                        ("answer", "answer (respond call)"), ("resume", "resume (run again, result)")]:
        print(f"  {label:32s} {per[name]:6.2f}  {per_cpu[name]:6.2f}")
    print(f"  {'parked step in total':32s} {total['wall']:6.2f}  {total['cpu']:6.2f}   = "
          f"{ratio['wall']:.2f}x (wall), {ratio['cpu']:.2f}x (CPU) an ordinary step")
    print(json.dumps({"runs": args.runs, "concurrency": args.concurrency, "wall_ms": per, "cpu_ms": per_cpu,
                      "ratio": ratio, "command": " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
