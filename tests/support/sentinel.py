"""A Redis Sentinel group on loopback ports: a master, one replica and three sentinels, for tests
that kill the master and watch the sentinels promote the replica."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer, free_port

MASTER_NAME = "mymaster"


class Sentinel:
    """One ``redis-server --sentinel`` process (Debian's redis-server package has no separate
    redis-sentinel binary). Its config file is its own: a sentinel rewrites it as it learns."""

    def __init__(self, master_port: int, quorum: int, down_after_ms: int, failover_timeout_ms: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="graflow-sentinel-"))
        self.conf = self.dir / "sentinel.conf"
        self.conf.write_text("\n".join([
            f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}", f"logfile {self.dir / 'sentinel.log'}",
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}",
            f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}",
            f"sentinel failover-timeout {MASTER_NAME} {failover_timeout_ms}",
            f"sentinel parallel-syncs {MASTER_NAME} 1", "",
        ]))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"sentinel://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def start(self) -> Sentinel:
        self.proc = subprocess.Popen(["redis-server", str(self.conf), "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def master(self) -> dict:
        return self.client().sentinel_master(MASTER_NAME)  # type: ignore[no-any-return]

    def log(self) -> str:
        path = self.dir / "sentinel.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


class SentinelGroup:
    """A master and a replica (``--replicaof``) watched by three sentinels with a quorum of two.
    ``url`` is the sentinel URL list kombu and graflow-celery take (``sentinel://h:p;...``)."""

    def __init__(self, down_after_ms: int = 1000, failover_timeout_ms: int = 5000) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.master = RedisServer()
        self.replica = RedisServer(replica_of=self.master.port)
        self.sentinels = [Sentinel(self.master.port, 2, down_after_ms, failover_timeout_ms) for _ in range(3)]

    @property
    def url(self) -> str:
        return ";".join(s.url for s in self.sentinels)

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self, timeout: float = 30) -> SentinelGroup:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        # Ready when the replica is in sync and every sentinel knows the replica and the other two
        # sentinels (they find each other through the master's hello channel, every 2 s): only
        # then can a quorum agree the master is down and elect a leader to fail over.
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the sentinel group did not settle:\n" + self.sentinels[0].log()[-2000:])
            time.sleep(0.2)
        return self

    def _ready(self) -> bool:
        try:
            if self.replica.client().info("replication").get("master_link_status") != "up":
                return False
            for sentinel in self.sentinels:
                state = sentinel.master()
                if state["num-slaves"] < 1 or state["num-other-sentinels"] < len(self.sentinels) - 1:
                    return False
        except redis.ConnectionError:
            return False
        return True

    def master_port(self) -> int | None:
        """The master's port as a majority of the sentinels see it (None while they disagree)."""
        ports = []
        for sentinel in self.sentinels:
            try:
                ports.append(int(sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
            except (redis.ConnectionError, TypeError):
                continue
        best = max(set(ports), key=ports.count, default=None)
        return best if ports.count(best) * 2 > len(self.sentinels) else None  # type: ignore[arg-type]

    def wait_for_promotion(self, old_port: int, timeout: float = 30) -> float:
        """Seconds until a majority of the sentinels name a master other than ``old_port`` and that
        server answers as a master."""
        start = time.monotonic()
        while True:
            port = self.master_port()
            if port is not None and port != old_port:
                try:
                    if redis.Redis(port=port).info("replication")["role"] == "master":
                        return time.monotonic() - start
                except redis.ConnectionError:
                    pass
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"no failover in {timeout}s:\n" + self.sentinels[0].log()[-3000:])
            time.sleep(0.05)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()
