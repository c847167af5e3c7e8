"""A private redis-server on a free port, for tests that must not share (or may break) Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, port: int | None = None, persistent: bool = False, cluster: bool = False,
                 password: str | None = None, replica_of: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="graflow-redis-"))
        self.persistent = persistent  # an append-only file, fsynced on every write: survives kill -9
        self.cluster = cluster  # cluster mode (no slots assigned): enough for CLUSTER KEYSLOT
        self.password = password
        self.replica_of = replica_of  # the port of a master on 127.0.0.1 this server replicates
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.db_url(0)

    def db_url(self, db: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password)

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
             *(["--cluster-enabled", "yes", "--cluster-config-file", str(self.dir / "nodes.conf"),
                "--cluster-port", str(free_port())]  # not port + 10000, which may be out of range
               if self.cluster else []),
             *(["--requirepass", self.password] if self.password else []),
             *(["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
