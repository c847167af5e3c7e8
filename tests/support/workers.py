"""Real Celery worker processes for the tests, started and stopped by fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(self, name: str, redis_url: str, log_dir: Path, queues: str = "celery",
                 concurrency: int = 2, pool: str = "prefork",
                 extra_env: dict[str, str] | None = None, events: bool = False,
                 app_module: str = "tests.support.celery_app", broker_url: str | None = None) -> None:
        self.name = name
        self.redis_url = redis_url
        self.log = log_dir / f"{name}.log"
        self.queues = queues
        self.concurrency = concurrency
        self.pool = pool
        # ``broker_url``: another broker than Redis (RabbitMQ); run state stays on ``redis_url``.
        self.env = {**os.environ, "GRAFLOW_TEST_REDIS_URL": redis_url, "GRAFLOW_WORKER_NAME": name,
                    "GRAFLOW_TEST_BROKER_URL": broker_url or "",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    **(extra_env or {})}
        self.events = events
        self.app_module = app_module
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", self.app_module, "worker",
                 "-n", f"{self.name}@%h", "-Q", self.queues, "-c", str(self.concurrency), "-P", self.pool,
                 "-l", "INFO", "--without-mingle", "--without-gossip", *(["-E"] if self.events else [])],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT, start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.tail()}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.1)
        raise TimeoutError(f"worker {self.name} not ready in {timeout}s:\n{self.tail()}")

    def pool_pids(self) -> list[int]:
        """Pids of the pool's child processes (the ones that run tasks)."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, mid-task if need be."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def started(names: list[str], redis_url: str, log_dir: Path, env: dict[str, str],
            **options: Any) -> Iterator[dict[str, Worker]]:
    """Real workers by name, ready, stopped on the way out (``options``: Worker's keywords)."""
    workers = {n: Worker(n, redis_url, log_dir, extra_env=env, **options).start() for n in names}
    try:
        for worker in workers.values():
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers.values():
            worker.stop()


def wait_for_workers(redis_url: str, workers: list[Worker], timeout: float = 30) -> None:
    for worker in workers:
        worker.wait_ready(timeout)
    redis.Redis.from_url(redis_url).ping()
