"""Starting task processes fast: a fork server per process that runs steps (``forkserver_main.py``).

Starting Python and importing this package (Celery, kombu, redis, pydantic) is most of what a fresh
interpreter costs; the fork server pays it once, then forks one child per task - a new process
that never ran anything of the user's. Forking the process that runs steps itself would be unsafe:
it has threads (the in-process pool, a Celery worker's lease renewal) whose locks a child would
inherit held. One fork server per process (a Celery pool child gets its own), started on first
use and ended when that process ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from typing import IO, Any

from graflow_celery.errors import ConfigurationError

SERVER_MODULE = "graflow_celery.handlers.forkserver_main"


def supported() -> bool:
    """Forking and passing sockets over Unix sockets with message boundaries (Linux, BSDs)."""
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds") or not hasattr(socket, "SOCK_SEQPACKET"):
        return False
    try:
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return False
    left.close()
    right.close()
    return True


def child_environment() -> dict[str, str]:
    """This process's environment, with its ``sys.path`` as PYTHONPATH, so that a child imports
    the same modules (this package and the task's) from the same places."""
    paths = dict.fromkeys(p or os.getcwd() for p in sys.path)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class ForkedChild:
    """A task process forked by the fork server; its conversation runs over one socket."""

    def __init__(self, server: ForkServer, pid: int, conversation: socket.socket) -> None:
        self.server = server
        self.pid = pid
        self._socket = conversation
        self.reader: IO[bytes] = conversation.makefile("rb")
        self.writer: IO[bytes] = conversation.makefile("wb")
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status (``Popen.returncode`` style); None if it still runs after ``timeout``
        seconds, or if nobody can tell (the fork server, which reaps it, has gone)."""
        if self.returncode is None:
            self.returncode = self.server.exit_status(self.pid, timeout)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None and self.server.alive:  # else its pid may name another process
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Closing the conversation also ends a child that has not answered (``process_child``)."""
        for stream in (self.reader, self.writer, self._socket):
            with contextlib.suppress(OSError):
                stream.close()


class ForkServer:
    def __init__(self, python: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen([python, "-m", SERVER_MODULE, str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], env=child_environment(),
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._control = ours
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self._forked: dict[int, int] = {}  # request id -> pid
        self._exited: dict[int, int] = {}  # pid -> exit status
        self._ids = itertools.count()
        self.alive = True
        threading.Thread(target=self._listen, daemon=True, name="graflow-forkserver").start()

    def fork(self) -> ForkedChild:
        """A new child, whose stdin and stdout are the returned conversation's socket."""
        ours, theirs = socket.socketpair()
        request_id = next(self._ids)
        request = {"env": child_environment(), "cwd": os.getcwd(), "path": list(sys.path)}
        stderr = _stderr()  # the child's stderr is this process's now, as a spawned child's would be
        try:
            with self._send_lock:
                message = pickle.dumps((request_id, request))
                socket.send_fds(self._control, [message], [theirs.fileno(), stderr])
        except OSError as exc:
            ours.close()
            self.alive = False
            raise ConfigurationError(f"the fork server of task processes has gone: {exc}") from exc
        finally:
            theirs.close()
            os.close(stderr)
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._forked or not self.alive)
            if request_id not in self._forked:
                ours.close()
                raise ConfigurationError(f"the fork server of task processes (pid {self.process.pid}) has "
                                         "gone: see the worker's stderr")
            return ForkedChild(self, self._forked.pop(request_id), ours)

    def exit_status(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exited or not self.alive, timeout)
            return self._exited.pop(pid, None)

    def _listen(self) -> None:
        while True:
            try:
                data = self._control.recv(4096)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self.alive = False
                    self._changed.notify_all()
                    return
                message: tuple[Any, ...] = pickle.loads(data)
                if message[0] == "forked":
                    self._forked[message[1]] = message[2]
                else:
                    self._exited[message[1]] = message[2]
                self._changed.notify_all()


def _stderr() -> int:
    """A descriptor of this process's stderr (of /dev/null if it has none), to pass on."""
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


_servers: dict[tuple[int, str], ForkServer] = {}
_servers_lock = threading.Lock()


def server(python: str) -> ForkServer:
    """This process's fork server for ``python`` (a process forked from this one - a Celery pool
    child - starts its own)."""
    key = (os.getpid(), python)
    with _servers_lock:
        found = _servers.get(key)
        if found is None or not found.alive:
            found = _servers[key] = ForkServer(python)
        return found
