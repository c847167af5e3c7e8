"""A private virtual host on the machine's RabbitMQ (127.0.0.1:5672, guest/guest), for the tests
that put Celery's broker on AMQP while run state stays in Redis.

Each test session makes its own vhost (``rabbitmqctl add_vhost`` + ``set_permissions`` for guest)
and deletes it at the end, so sessions running side by side never share a queue. The name holds
this host and pid: a vhost left behind by a session that was killed is deleted by the next one.
``scripts/test`` installs and starts RabbitMQ where it can (CI runs as root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess

HOST = "127.0.0.1"
PORT = 5672
USER = "guest"
PASSWORD = "guest"
PREFIX = "graflow-test"


class RabbitMQUnavailable(RuntimeError):
    """RabbitMQ cannot be used here; the text says why."""


def _rabbitmqctl() -> str | None:
    found = shutil.which("rabbitmqctl")  # /usr/sbin is not on every user's PATH
    return found or ("/usr/sbin/rabbitmqctl" if os.path.exists("/usr/sbin/rabbitmqctl") else None)


def unavailable_reason() -> str | None:
    """Why no vhost can be made here, or None."""
    if _rabbitmqctl() is None:
        return "rabbitmqctl not found: RabbitMQ is not installed (scripts/test installs rabbitmq-server)"
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        return f"nothing answers on {HOST}:{PORT} ({exc}): start RabbitMQ (rabbitmq-server -detached)"
    return None


def ctl(*args: str, timeout: float = 60) -> str:
    """Run ``rabbitmqctl -q ARGS``; its output, or RabbitMQUnavailable with what it printed."""
    command = _rabbitmqctl()
    if command is None:
        raise RabbitMQUnavailable(unavailable_reason() or "rabbitmqctl not found")
    try:
        done = subprocess.run([command, "-q", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RabbitMQUnavailable(f"rabbitmqctl {' '.join(args)} did not answer in {timeout}s") from exc
    if done.returncode != 0:
        raise RabbitMQUnavailable(f"rabbitmqctl {' '.join(args)} failed ({done.returncode}): "
                                  f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


class RabbitVhost:
    def __init__(self) -> None:
        host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())
        self.name = f"{PREFIX}-{host}-{os.getpid()}-{secrets.token_hex(4)}"
        self._host_prefix = f"{PREFIX}-{host}-"

    @property
    def url(self) -> str:
        return f"amqp://{USER}:{PASSWORD}@{HOST}:{PORT}/{self.name}"

    def create(self) -> RabbitVhost:
        reason = unavailable_reason()
        if reason is not None:
            raise RabbitMQUnavailable(reason)
        self._delete_stale()
        ctl("add_vhost", self.name)
        ctl("set_permissions", "-p", self.name, USER, ".*", ".*", ".*")
        return self

    def delete(self) -> None:
        ctl("delete_vhost", self.name)

    def _delete_stale(self) -> None:
        """Vhosts of earlier sessions on this host whose process is gone (a killed session)."""
        for name in ctl("list_vhosts", "--no-table-headers", "name").split():
            if not name.startswith(self._host_prefix):
                continue
            pid = name[len(self._host_prefix):].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                ctl("delete_vhost", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
