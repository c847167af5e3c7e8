"""The fork server of ``handler="process"``: ``python -m graflow_celery.handlers.forkserver_main FD``.

It has imported this package (which is most of a task process's start-up time) and nothing of the
user's, runs no thread, and forks one child per request: the request carries the socket of the
child's conversation (as SCM_RIGHTS), and the environment, working directory and ``sys.path``
the child takes over. It reports each child's pid when forked and its exit status when reaped.
It ends when the control socket closes (the process that started it has gone).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import selectors
import signal
import socket
import sys
from typing import Any

from graflow_celery.handlers import process_child


def main() -> int:
    control = socket.socket(fileno=int(sys.argv[1]))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # C-level: wakes the selector
    signal.set_wakeup_fd(wake_write)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                data, fds, _, _ = socket.recv_fds(control, 1 << 20, 2)
                if not data:
                    return 0
                request_id, request = pickle.loads(data)
                pid = os.fork()
                if pid == 0:
                    for fd in (control.fileno(), wake_read, wake_write):
                        os.close(fd)
                    _child(fds[0], fds[1], request)
                for fd in fds:
                    os.close(fd)
                control.send(pickle.dumps(("forked", request_id, pid)))
            else:
                os.read(wake_read, 4096)
                _reap(control)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        control.send(pickle.dumps(("exited", pid, os.waitstatus_to_exitcode(status))))


def _child(conversation: int, stderr: int, request: dict[str, Any]) -> None:
    """In the forked child: become what a spawned child is, run the task, exit. Never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # like a spawned child: signals to the parent's process group do not reach it
        os.dup2(conversation, 0)
        os.dup2(conversation, 1)
        os.dup2(stderr, 2)  # the requester's stderr of the moment
        os.close(stderr)
        os.close(conversation)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = request["path"]
        code = process_child.main()
    finally:
        atexit._run_exitfuncs()  # the task's own atexit hooks, as at a normal exit
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream must not change the exit status
                stream.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
