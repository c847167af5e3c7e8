"""Celery overhead benchmark: graflow-celery workflows against the same shapes in raw Celery canvas.

Both sides run in one process invocation, on the SAME private ``redis-server`` (started here on a
free port; the Redis on 6379 is never touched) and the SAME real Celery worker processes (default:
2 workers x ``--concurrency 2``, prefork, ``-Q celery``), which import ``bench/celery_bench_app.py``.
Every task body is trivial (returns 1), so what is measured is orchestration overhead.

Shapes (sizes are the defaults; ``--quick`` uses small ones for a smoke run):

* chain, 200 steps: raw ``chain(noop.si() x 200).apply_async().get()`` vs a graflow workflow
  ``chain(s0, ..., s199)``. Reported: ms per step; ratio graflow/raw time (target <= 1.0).
* group, 2,000 independent tasks: raw ``group(noop.si() x 2000).apply_async().get()`` vs one graflow
  workflow ``parallel(m0, ..., m1999)``. Reported: tasks per second; ratio graflow/raw throughput
  (target >= 1.0).
* chord, 200 and 1,000 wide: raw ``chord([noop.si()] x N, collect.s()).apply_async().get()`` vs a
  graflow workflow ``parallel(m0, ..., m{N-1}) >> collect``. Reported: total ms; ratio graflow/raw
  time (targets <= 0.8 at 200 and <= 0.5 at 1,000).

What is timed: raw, ``apply_async()`` through ``.get()`` of the final result (the canvas is built
before the clock starts); graflow, ``graflow_celery.submit(wf, app=app)`` through ``run.wait()`` and
``run.result()`` (the workflow is defined once, before any timing; ``submit`` encodes and stores its
graph on every run, as it does for a user). Each result is checked. Before timing, every case runs
once on each side as a warm-up. Then each case runs ``--repeat`` times per side (default 3), raw
first on even repeats and graflow first on odd ones, cases interleaved; the best time counts.
Alongside wall time, each run records the CPU time (Linux ``/proc``) used by this process (the
client), the worker processes and ``redis-server``; the table shows the median per user task, which
says where the work goes and is less sensitive than wall time to other load on the machine. A
"spread" column (slowest/best run) flags noisy measurements.

Afterwards (untimed, skip with ``--no-commands``) each case runs once more per side under Redis
``MONITOR`` to count the commands Redis served per user task, split by origin: "client" (this
process: submitting, waiting, reading results), "workers" (every other TCP client) and "lua"
(issued inside scripts: graflow's EVALSHA, Celery's chord script). A pipeline or MULTI/EXEC of k
commands counts k. An idle sample gives the background rate (workers polling the broker).

Configuration, identical for both sides: ``worker_prefetch_multiplier=1``; raw tasks use Celery's
default early ack (``--raw-acks-late`` switches it; graflow's step task is always ``acks_late``);
raw results go to the Redis result backend, graflow results to graflow's run state in that Redis.
Worker log level defaults to WARNING so that per-task INFO lines do not dominate either side.

Run from the repository root (needs ``redis-server`` on PATH)::

    .venv/bin/python bench/celery_overhead.py [--repeat 3] [--workers 2] [--concurrency 2] [--quick]

Progress goes to stderr. The output is a table, a per-task Redis command table and, last, a one-line
JSON summary with every number, ratio and the exact command line. A full run takes about 2-3 minutes
on 2 cores; ``--quick`` about 20 seconds.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import celery
import redis
from celery import chain, chord, group

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as bench/celery_overhead.py: make `tests` and `bench` importable,
    sys.path.insert(0, str(ROOT))  # and measure this checkout's graflow_celery, not an installed one

import graflow_celery  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

APP_MODULE = "bench.celery_bench_app"
REDIS_URL_ENV = "GRAFLOW_BENCH_REDIS_URL"  # the names celery_bench_app reads (it may not be imported
ACKS_LATE_ENV = "GRAFLOW_BENCH_ACKS_LATE"  # before they are set, so they are repeated here)

RAW, GRAFLOW = "raw", "graflow"


# --- what to measure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    shape: str  # "chain", "group" or "chord"
    n: int  # chain length or group/chord width
    target: float  # the ratio to reach (see `ratio`)

    @property
    def key(self) -> str:
        return f"{self.shape}_{self.n}"

    @property
    def user_tasks(self) -> int:
        """Trivial task bodies one run executes (a chord also runs its collect task)."""
        return self.n + 1 if self.shape == "chord" else self.n

    @property
    def expected(self) -> int:
        """The final value both sides must produce (see `check`)."""
        return 1 if self.shape == "chain" else self.n

    @property
    def ratio_label(self) -> str:
        return "graflow/raw tasks/s" if self.shape == "group" else "graflow/raw time"

    @property
    def target_text(self) -> str:
        return f">= {self.target:g}" if self.shape == "group" else f"<= {self.target:g}"


def default_cases(quick: bool) -> list[Case]:
    chain_n, group_n, chords = (20, 200, (20, 100)) if quick else (200, 2000, (200, 1000))
    chord_targets = {chords[0]: 0.8, chords[1]: 0.5}
    return [Case("chain", chain_n, 1.0), Case("group", group_n, 1.0),
            *(Case("chord", n, chord_targets[n]) for n in chords)]


@dataclass
class Timing:
    seconds: float
    phases: dict[str, float]  # raw: send, wait; graflow: submit, wait, result
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used by "client", "workers", "redis"


@dataclass
class Outcome:
    case: Case
    runs: dict[str, list[Timing]] = field(default_factory=lambda: {RAW: [], GRAFLOW: []})

    def best(self, side: str) -> Timing:
        return min(self.runs[side], key=lambda t: t.seconds)

    def cpu_per_task(self, side: str) -> dict[str, float]:
        """Median over the runs of each process group's CPU ms per user task."""
        runs, tasks = self.runs[side], self.case.user_tasks
        return {k: statistics.median(t.cpu[k] for t in runs) / tasks * 1e3 for k in runs[0].cpu}

    def spread(self, side: str) -> float:
        times = [t.seconds for t in self.runs[side]]
        return max(times) / min(times)

    @property
    def ratio(self) -> float:
        """graflow/raw time, except for the group: graflow/raw throughput (= raw time / graflow time)."""
        raw, ours = self.best(RAW).seconds, self.best(GRAFLOW).seconds
        return raw / ours if self.case.shape == "group" else ours / raw

    @property
    def meets_target(self) -> bool:
        if self.case.shape == "group":
            return self.ratio >= self.case.target
        return self.ratio <= self.case.target


# --- the private Redis and the workers ----------------------------------------------------------------


class WorkerPool:
    """``count`` real ``celery worker`` processes running the bench app, each in its own session."""

    def __init__(self, redis_url: str, count: int, concurrency: int, pool: str, loglevel: str,
                 log_dir: Path, acks_late: bool) -> None:
        self.count, self.concurrency, self.pool, self.loglevel = count, concurrency, pool, loglevel
        self.log_dir = log_dir
        self.env = {**os.environ, REDIS_URL_ENV: redis_url, ACKS_LATE_ENV: "1" if acks_late else "0",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names = [f"bench{i}@{socket.gethostname()}" for i in range(count)]

    def start(self) -> None:
        for name in self.names:
            log = (self.log_dir / f"{name.split('@')[0]}.log").open("ab")
            with log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", APP_MODULE, "worker", "-n", name, "-Q", "celery",
                     "-c", str(self.concurrency), "-P", self.pool, "-l", self.loglevel,
                     "--without-mingle", "--without-gossip", "--without-heartbeat"],
                    stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT, start_new_session=True,
                ))

    def wait_ready(self, app: celery.Celery, timeout: float = 60) -> None:
        """Until every worker answers a broadcast ping (its consumer is then running)."""
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited with {proc.returncode}:\n{self.tail()}")
            for reply in app.control.ping(timeout=0.5) or []:
                answered.update(reply)
            if answered >= set(self.names):
                return
        raise TimeoutError(f"workers not ready in {timeout}s (answered: {sorted(answered)}):\n{self.tail()}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.procs.clear()

    def tail(self, lines: int = 30) -> str:
        out = []
        for log in sorted(self.log_dir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


# --- one timed run of each side -----------------------------------------------------------------------


def raw_canvas(bench: ModuleType, case: Case) -> Any:
    noop = bench.noop
    if case.shape == "chain":
        return chain(*(noop.si() for _ in range(case.n)))
    if case.shape == "group":
        return group(noop.si() for _ in range(case.n))
    return chord([noop.si() for _ in range(case.n)], bench.collect.s())


def check(case: Case, side: str, value: Any) -> None:
    got = sum(value) if isinstance(value, list) else len(value) if isinstance(value, dict) else value
    if got != case.expected:
        raise RuntimeError(f"{case.key} {side}: unexpected result {str(value)[:200]}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat(5)
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and its children (a worker's main process and its pool)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                children.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return [root, *children]


class Runner:
    """Runs one case on one side: the timed region, its phases, and the CPU every process used in it."""

    def __init__(self, bench: ModuleType, cases: list[Case], timeout: float,
                 cpu_pids: dict[str, list[int]]) -> None:
        self.bench = bench
        self.timeout = timeout
        self.cpu_pids = cpu_pids  # "workers" and "redis"; the client is this process
        builders: dict[str, Callable[[int], graflow_celery.WorkflowContext]] = {
            "chain": bench.chain_workflow, "group": bench.group_workflow, "chord": bench.chord_workflow}
        self.workflows = {c.key: builders[c.shape](c.n) for c in cases}  # defined once, untimed

    def run(self, case: Case, side: str) -> Timing:
        return self._raw(case) if side == RAW else self._graflow(case)

    def _cpu(self) -> dict[str, float]:
        return {"client": time.process_time(), **{k: cpu_seconds(v) for k, v in self.cpu_pids.items()}}

    def _raw(self, case: Case) -> Timing:
        canvas = raw_canvas(self.bench, case)
        gc.collect()
        cpu, began = self._cpu(), time.perf_counter()
        result = canvas.apply_async()
        sent = time.perf_counter()
        value = result.get(timeout=self.timeout)
        done = time.perf_counter()
        used = {k: v - cpu[k] for k, v in self._cpu().items()}
        check(case, RAW, value)
        return Timing(done - began, {"send": sent - began, "wait": done - sent}, used)

    def _graflow(self, case: Case) -> Timing:
        wf = self.workflows[case.key]
        gc.collect()
        cpu, began = self._cpu(), time.perf_counter()
        run = graflow_celery.submit(wf, app=self.bench.app, max_steps=max(10_000, 4 * case.n))
        submitted = time.perf_counter()
        run.wait(self.timeout)
        finished = time.perf_counter()
        value = run.result(self.timeout)
        done = time.perf_counter()
        used = {k: v - cpu[k] for k, v in self._cpu().items()}
        check(case, GRAFLOW, value)
        return Timing(done - began, {"submit": submitted - began, "wait": finished - submitted,
                                     "result": done - finished}, used)


def measure(runner: Runner, cases: list[Case], repeat: int, log: Callable[[str], None]) -> list[Outcome]:
    for case in cases:  # warm-up: every worker process imports, connects, loads scripts, allocates
        for side in (RAW, GRAFLOW):
            runner.run(case, side)
    log("warm-up done")
    outcomes = {c.key: Outcome(c) for c in cases}
    for r in range(repeat):
        order = (RAW, GRAFLOW) if r % 2 == 0 else (GRAFLOW, RAW)
        for case in cases:
            for side in order:
                outcomes[case.key].runs[side].append(runner.run(case, side))
        log(f"repeat {r + 1}/{repeat} done (order: {' then '.join(order)})")
    return list(outcomes.values())


# --- counting Redis commands ---------------------------------------------------------------------------

_MONITOR_LINE = re.compile(rb'^\S+ \[\d+ ([^\]]*)\] "([^"]*)"')
_STOP = "graflow-bench-monitor-stop"
ORIGINS = ("client", "workers", "lua")  # this process, other TCP clients (the workers), inside scripts


def own_tcp_ports() -> set[int]:
    """Local ports of this process's TCP sockets (Linux /proc; empty elsewhere)."""
    inodes = set()
    for fd in Path("/proc/self/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class CommandCounter:
    """Counts the commands Redis serves while active (MONITOR), by origin (see ORIGINS) and name."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._seen: Counter[tuple[str, str]] = Counter()  # (client address or "lua", command)
        self.counts: Counter[tuple[str, str]] = Counter()  # (origin, command), filled on exit
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._ready = threading.Event()

    def _read(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            while True:
                line = monitor.connection.read_response()
                m = _MONITOR_LINE.match(line if isinstance(line, bytes) else str(line).encode())
                if m is None:
                    continue
                name = m.group(2).decode().upper()
                if name == "ECHO" and _STOP.encode() in line:
                    return
                self._seen[m.group(1).decode(), name] += 1

    def __enter__(self) -> CommandCounter:
        self._thread.start()
        self._ready.wait(10)
        time.sleep(0.05)  # MONITOR is acknowledged before the first command we want to see
        self._began = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # let trailing work (graflow's outbox ack, result publishing) reach Redis
        self.seconds = time.perf_counter() - self._began
        mine = own_tcp_ports()  # connections this process still has open (pools keep them)
        self.client.echo(_STOP)
        self._thread.join(30)
        for (address, name), n in self._seen.items():
            if address == "lua":
                origin = "lua"
            else:
                port = address.rsplit(":", 1)[-1]
                origin = "client" if port.isdigit() and int(port) in mine else "workers"
            self.counts[origin, name] += n

    def total(self, origin: str) -> int:
        return sum(n for (o, _), n in self.counts.items() if o == origin)

    def per_task(self, origin: str, tasks: int, top: int = 12) -> dict[str, float]:
        names = Counter({name: n for (o, name), n in self.counts.items() if o == origin})
        return {name: round(n / tasks, 2) for name, n in names.most_common(top)}


def count_commands(runner: Runner, cases: list[Case], client: redis.Redis) -> dict[str, Any]:
    with CommandCounter(client) as idle:
        time.sleep(2.0)
    idle_rate = (idle.total("client") + idle.total("workers")) / idle.seconds
    found: dict[str, Any] = {"idle_net_per_s": round(idle_rate, 1),
                             "idle_sample": {f"{o}:{name}": n for (o, name), n in idle.counts.most_common()}}
    for case in cases:
        for side in (RAW, GRAFLOW):
            with CommandCounter(client) as counter:
                runner.run(case, side)
            tasks = case.user_tasks
            entry: dict[str, Any] = {"tasks": tasks, "seconds_monitored": round(counter.seconds, 3),
                                     "idle_estimate_per_task": round(idle_rate * counter.seconds / tasks, 3)}
            for origin in ORIGINS:
                entry[f"{origin}_per_task"] = round(counter.total(origin) / tasks, 2)
            for origin in ORIGINS:
                entry[origin] = counter.per_task(origin, tasks)
            found[f"{case.key}/{side}"] = entry
    return found


# --- reporting -----------------------------------------------------------------------------------------


def print_table(outcomes: list[Outcome]) -> None:
    print(f"{'case':<11} {'side':<8} {'best ms':>9} {'spread':>6}  {'all runs ms':<20} {'metric':>16}  "
          f"{'CPU ms/task c/w/r':>17}  phases of best (ms)")
    for o in outcomes:
        for side in (RAW, GRAFLOW):
            best = o.best(side)
            runs = ", ".join(f"{t.seconds * 1e3:.0f}" for t in o.runs[side])
            phases = " ".join(f"{k}={v * 1e3:.1f}" for k, v in best.phases.items())
            cpu = "/".join(f"{v:.2f}" for v in o.cpu_per_task(side).values())
            print(f"{o.case.key:<11} {side:<8} {best.seconds * 1e3:>9.1f} {o.spread(side):>6.2f}  {runs:<20} "
                  f"{metric_text(o.case, best.seconds):>16}  {cpu:>17}  {phases}")
        verdict = "meets target" if o.meets_target else "MISSES target"
        print(f"{'':<11} {'ratio':<8} {o.ratio:>9.2f}  {o.case.ratio_label} (target {o.case.target_text}): "
              f"{verdict}")
    print("spread = slowest/best run of that side; well above 1.2 means the machine was noisy. "
          "CPU ms/task = CPU time of client (this process) / workers / redis-server per user task, "
          "median over the runs (less sensitive to a busy machine than wall time)")


def metric_text(case: Case, seconds: float) -> str:
    if case.shape == "chain":
        return f"{seconds / case.n * 1e3:.2f} ms/step"
    if case.shape == "group":
        return f"{case.n / seconds:.0f} tasks/s"
    return f"{seconds * 1e3:.0f} ms total"


def print_commands(found: dict[str, Any], cases: list[Case]) -> None:
    print(f"Redis commands per user task (MONITOR, one untimed run per side). client = this process "
          f"(submit, wait, result), workers = the worker processes, lua = inside scripts; idle background "
          f"{found['idle_net_per_s']} commands/s, column idle = its estimated share per task")
    print(f"{'case':<11} {'side':<8} {'client':>6} {'workers':>7} {'lua':>6} {'idle':>6}  breakdown per task")
    for case in cases:
        for side in (RAW, GRAFLOW):
            c = found[f"{case.key}/{side}"]
            print(f"{case.key:<11} {side:<8} {c['client_per_task']:>6.2f} {c['workers_per_task']:>7.2f} "
                  f"{c['lua_per_task']:>6.2f} {c['idle_estimate_per_task']:>6.3f}", end="")
            lead = "  "
            for origin in ("workers", "lua", "client"):
                if c[origin]:
                    print(f"{lead}{origin}: " + " ".join(f"{k}={v:g}" for k, v in c[origin].items()))
                    lead = " " * 44
    print("(a pipeline or MULTI/EXEC of k commands is one round trip but k commands here)")


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def summary(outcomes: list[Outcome], commands: dict[str, Any] | None, args: argparse.Namespace,
            command_line: str, load: dict[str, tuple[float, float, float]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for o in outcomes:
        raw, ours = o.best(RAW), o.best(GRAFLOW)
        entry: dict[str, Any] = {
            "n": o.case.n, "user_tasks": o.case.user_tasks,
            "raw_best_s": round(raw.seconds, 4), "graflow_best_s": round(ours.seconds, 4),
            "raw_runs_s": [round(t.seconds, 4) for t in o.runs[RAW]],
            "graflow_runs_s": [round(t.seconds, 4) for t in o.runs[GRAFLOW]],
            "raw_phases_s": {k: round(v, 4) for k, v in raw.phases.items()},
            "graflow_phases_s": {k: round(v, 4) for k, v in ours.phases.items()},
            "raw_cpu_ms_per_task": {k: round(v, 3) for k, v in o.cpu_per_task(RAW).items()},
            "graflow_cpu_ms_per_task": {k: round(v, 3) for k, v in o.cpu_per_task(GRAFLOW).items()},
            "raw_spread": round(o.spread(RAW), 2), "graflow_spread": round(o.spread(GRAFLOW), 2),
            "ratio": round(o.ratio, 3), "ratio_kind": o.case.ratio_label, "target": o.case.target_text,
            "meets_target": o.meets_target,
        }
        if o.case.shape == "chain":
            entry |= {"raw_ms_per_step": round(raw.seconds / o.case.n * 1e3, 3),
                      "graflow_ms_per_step": round(ours.seconds / o.case.n * 1e3, 3)}
        elif o.case.shape == "group":
            entry |= {"raw_tasks_per_s": round(o.case.n / raw.seconds, 1),
                      "graflow_tasks_per_s": round(o.case.n / ours.seconds, 1)}
        results[o.case.key] = entry
    return {
        "bench": "celery_overhead",
        "command": command_line,
        "config": {"workers": args.workers, "concurrency": args.concurrency, "pool": args.pool,
                   "repeat": args.repeat, "quick": args.quick, "worker_prefetch_multiplier": 1,
                   "raw_acks_late": args.raw_acks_late, "worker_loglevel": args.worker_loglevel,
                   "cpus": os.cpu_count(), "loadavg": load, "python": platform.python_version(),
                   "celery": celery.__version__, "graflow_celery": graflow_celery.__version__},
        "results": results,
        "commands_per_task": commands,
    }


# --- main ----------------------------------------------------------------------------------------------


def forget_raw_results(app: celery.Celery) -> None:
    """Raw AsyncResults unsubscribe from Redis when collected; collect them while Redis still runs, and
    leave nothing to unsubscribe from for any the interpreter only drops at exit (after Redis stopped)."""
    gc.collect()
    consumer = getattr(app.backend, "result_consumer", None)
    if consumer is not None:
        consumer.subscribed_to.clear()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case and side; the best counts")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker (default 2)")
    parser.add_argument("--pool", default="prefork", help="worker pool (default prefork)")
    parser.add_argument("--raw-acks-late", action="store_true",
                        help="raw tasks ack after running, like graflow's step task (default: early ack)")
    parser.add_argument("--worker-loglevel", default="WARNING", help="worker log level (default WARNING)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one run may take before failing")
    parser.add_argument("--no-commands", action="store_true", help="skip the Redis command count")
    parser.add_argument("--events", action="store_true",
                        help="workers subscribe graflow_celery.signals (lifecycle events on, no receiver)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.events:
        os.environ["GRAFLOW_BENCH_EVENTS"] = "1"  # read by the bench app, here and in the workers
    command_line = shlex.join([sys.executable, *sys.argv])
    cases = default_cases(args.quick)
    load_before = os.getloadavg()
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    server = RedisServer().start()
    os.environ[REDIS_URL_ENV] = server.url  # read by the bench app at import, here and in the workers
    os.environ[ACKS_LATE_ENV] = "1" if args.raw_acks_late else "0"
    log_dir = Path(tempfile.mkdtemp(prefix="graflow-bench-workers-"))
    workers = WorkerPool(server.url, args.workers, args.concurrency, args.pool, args.worker_loglevel,
                         log_dir, args.raw_acks_late)
    bench: ModuleType | None = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops workers and Redis
    try:
        bench = importlib.import_module(APP_MODULE)
        workers.start()
        workers.wait_ready(bench.app)
        log(f"redis-server on port {server.port}; {args.workers} workers x {args.concurrency} ({args.pool}) "
            f"ready (logs: {log_dir})")
        cpu_pids = {"workers": [pid for proc in workers.procs for pid in process_tree(proc.pid)],
                    "redis": [server.proc.pid] if server.proc else []}
        runner = Runner(bench, cases, args.timeout, cpu_pids)
        outcomes = measure(runner, cases, args.repeat, log)
        commands = None
        if not args.no_commands:
            commands = count_commands(runner, cases, redis.Redis.from_url(server.url))
            log("command count done")
    except BaseException:
        print(workers.tail(), file=sys.stderr)
        raise
    finally:
        if bench is not None:
            forget_raw_results(bench.app)
        workers.stop()
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
    shutil.rmtree(log_dir, ignore_errors=True)  # kept (and their tails printed) only when something failed
    load_after = os.getloadavg()

    print(f"graflow_celery {graflow_celery.__version__} vs celery {celery.__version__} | "
          f"Python {platform.python_version()} | {os.cpu_count()} CPUs | one redis-server, "
          f"{args.workers} workers x {args.concurrency} ({args.pool}), prefetch multiplier 1, "
          f"raw acks {'late' if args.raw_acks_late else 'early (Celery default)'} | best of {args.repeat} "
          f"| {time.monotonic() - began:.0f}s")
    print(f"load average (1, 5, 15 min) before: {fmt_load(load_before)}, after: {fmt_load(load_after)} "
          f"(this run itself keeps {args.workers * args.concurrency} pool processes, redis, this one busy)")
    print(f"command: {command_line}")
    print()
    print_table(outcomes)
    if commands is not None:
        print()
        print_commands(commands, cases)
    print()
    print(json.dumps(summary(outcomes, commands, args, command_line,
                             {"before": load_before, "after": load_after})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
