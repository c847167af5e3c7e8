"""``handler="process"``: each run of the task in a fresh Python process - for isolation, and for
libraries that leak memory, threads or global state.

The process that runs the step (a thread of the in-process backend, a Celery worker) starts a
child and talks to it over the child's stdin and stdout (``wire.py``): it sends the function, its
arguments and the task's context; it serves the child's channel and context calls on the run's
real channel and context, so ``ctx.get_channel()`` (locks included), ``ctx.get_result()``,
``next_task``, ``next_iteration``, ``terminate_workflow`` and ``cancel_workflow`` work as in
process; it receives the result, or the exception with its type and traceback text. A child that
ends without answering (SIGKILL, ``os._exit``, a crash in C code) is ``TaskProcessCrashed``:
retried like any exception of the task.

How the child starts: forked by this process's fork server (``forkserver.py``: a few
milliseconds; the child has this package imported and nothing of the user's), or - with
``start="spawn"``, or where forking is not available - a new interpreter running ``command()``.
Only stdin and stdout carry the conversation, so a subclass can run the child anywhere that
forwards them: ``docker run -i IMAGE python -m graflow_celery.handlers.process_child`` (override
``command``; the image needs this package and the task's module).
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager, suppress
from typing import IO, TYPE_CHECKING, Any, Protocol

from graflow_celery.errors import (
    ConfigurationError,
    SerializationError,
    TaskProcessCrashed,
    WorkflowRuntimeError,
)
from graflow_celery.handlers import forkserver, wire
from graflow_celery.handlers.base import TaskCall, TaskHandler
from graflow_celery.redact import describe

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext

CHILD_MODULE = "graflow_celery.handlers.process_child"
KILLED_GRACE = 5.0  # seconds to wait for a killed child's exit status before leaving it be
STARTS = ("fork", "spawn")

# What the child may ask of the run's channel (``Channel`` protocol) - locks are served apart.
CHANNEL_METHODS = frozenset({"set", "get", "delete", "exists", "keys", "clear", "append", "prepend",
                             "atomic_add", "get_many", "export", "load"})


class ProcessTaskHandler(TaskHandler):
    """``start``: "fork" (from the fork server) or "spawn" (a new interpreter per task, from
    ``command()``); by default "fork" where the platform can, unless a subclass overrides
    ``command`` or ``environment``. ``python``: the interpreter (default: this one).
    ``exit_grace``: seconds a child that has answered gets to exit on its own (its ``atexit``
    hooks run) before it is killed."""

    def __init__(self, start: str | None = None, python: str | None = None, exit_grace: float = 10.0) -> None:
        if start is None:
            launches_itself = (type(self).command is not ProcessTaskHandler.command
                               or type(self).environment is not ProcessTaskHandler.environment)
            start = "spawn" if launches_itself else "fork"
        if start not in STARTS:
            raise ConfigurationError(f"start must be one of {STARTS}, got {start!r}")
        self.start = start if start == "spawn" or forkserver.supported() else "spawn"
        self.python = python or sys.executable
        self.exit_grace = exit_grace

    def get_name(self) -> str:
        return "process"

    def command(self, task: TaskCall) -> list[str]:
        """A spawned child's command line; it must run ``graflow_celery.handlers.process_child``
        with its stdin and stdout connected to this process."""
        return [self.python, "-m", CHILD_MODULE]

    def environment(self, task: TaskCall) -> dict[str, str] | None:
        """A spawned child's environment (None: this one, unchanged). By default this one, with
        this process's ``sys.path`` as PYTHONPATH, so that the child imports the same modules
        (this package and the task's) from the same places - as a forked child does."""
        return forkserver.child_environment()

    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        job = self._job(task, context)  # before a process starts: a value that cannot go fails here
        conversation = _Conversation(self._start_child(task), task, context)
        try:
            return conversation.run(job)
        finally:
            conversation.close(self.exit_grace)

    def _start_child(self, task: TaskCall) -> Child:
        if self.start == "fork":
            return forkserver.server(self.python).fork()
        process = subprocess.Popen(self.command(task), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env=self.environment(task), start_new_session=True)
        return SpawnedChild(process)

    def _job(self, task: TaskCall, context: ExecutionContext) -> bytes:
        tctx = task.task_context
        inject = task.task.inject_context
        job = {
            "task_id": task.task_id,
            "func": task.func,
            "args": task.args[1:] if inject else task.args,
            "kwargs": task.kwargs,
            "inject_context": inject,
            "task_context": (type(tctx), {k: v for k, v in vars(tctx).items() if k != "execution_context"}),
            "run_id": context.run_id,
            "name": context.name,
            "channel": context.get_channel().name,
        }
        try:
            return wire.dumps(job)
        except Exception as exc:
            raise SerializationError(f"task {task.task_id!r} cannot be sent to its own process (handler "
                                     f"'process'): {describe(exc)}") from exc


class Child(Protocol):
    """A task process, however it was started."""

    pid: int
    reader: IO[bytes]  # its stdout
    writer: IO[bytes]  # its stdin

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status; None if it still runs after ``timeout`` seconds (or nobody can tell)."""
        ...

    def kill(self) -> None: ...

    def close(self) -> None:
        """Close the conversation: a child that has not answered ends."""
        ...


class SpawnedChild:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.pid = process.pid
        self.reader = process.stdout
        self.writer = process.stdin

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        for stream in (self.writer, self.reader):
            with suppress(OSError):
                stream.close()


class _Conversation:
    """One child process, from its job to its answer."""

    def __init__(self, child: Child, task: TaskCall, context: ExecutionContext) -> None:
        self.child = child
        self.task = task
        self.context = context
        self.locks: list[AbstractContextManager[Any]] = []
        self.ended = False  # the child answered, or is gone: it may take its time to exit

    def run(self, job: bytes) -> Any:
        self._send("job", job)
        while True:
            message = self._receive()
            kind = message[0]
            if kind == "call":
                self._send(*self._serve(*message[1:]))
            elif kind == "done":
                self.ended = True
                self._take_requests(message[2])
                return self._load(message[1], "its result")
            elif kind == "error":
                self.ended = True
                self._take_requests(message[2])
                raise wire.load_exception(*message[1])
            else:
                raise WorkflowRuntimeError(f"the process of task {self.task.task_id!r} sent {kind!r}")

    def close(self, grace: float) -> None:
        """Release what the child held and end it: one that answered gets ``grace`` seconds to
        exit on its own (the reaper waits, not the step); one that did not - this thread was
        interrupted - is killed at once."""
        for lock in reversed(self.locks):  # a child that died holding a channel lock
            lock.__exit__(None, None, None)
        self.locks.clear()
        self.child.close()
        if self.child.wait(0) is not None:
            return
        if not self.ended:
            self.child.kill()
        _reaper.reap(self.child, grace)

    # --- the conversation ----------------------------------------------------------------------------

    def _send(self, *message: Any) -> None:
        try:
            wire.write_frame(self.child.writer, *message)
        except (BrokenPipeError, ConnectionError, ValueError):  # the child has gone
            raise self._crashed() from None

    def _receive(self) -> tuple[Any, ...]:
        try:
            message = wire.read_frame(self.child.reader)
        except ConnectionError:
            message = None
        if message is None:
            raise self._crashed()
        return message

    def _crashed(self) -> TaskProcessCrashed:
        self.ended = True
        return TaskProcessCrashed(self.task.task_id, self.child.pid, self.child.wait())

    def _load(self, data: bytes, what: str) -> Any:
        try:
            return wire.loads(data)
        except Exception as exc:
            raise SerializationError(f"task {self.task.task_id!r}: {what} came back from its process but "
                                     f"cannot be loaded here: {describe(exc)}") from exc

    def _take_requests(self, data: bytes | None) -> None:
        """The flow-control requests the task made in its process (next_task, next_iteration,
        terminate, cancel, a deferred checkpoint) become the step's own."""
        if data is not None:
            self.task.task_context.requests = self._load(data, "its flow-control requests")

    # --- what the child asks of the run ----------------------------------------------------------------

    def _serve(self, target: str, name: str, payload: bytes) -> tuple[Any, ...]:
        try:
            args, kwargs = wire.loads(payload)
            return "ok", wire.dumps(self._dispatch(target, name, args, kwargs))
        except Exception as exc:  # the caller in the child raises it, as the call would in process
            return "raise", wire.dump_exception(exc)

    def _dispatch(self, target: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        channel = self.context.get_channel()
        if target == "channel" and name in CHANNEL_METHODS:
            return getattr(channel, name)(*args, **kwargs)
        if target == "lock" and name == "enter":
            lock = channel.lock(*args, **kwargs)
            lock.__enter__()
            self.locks.append(lock)
            return None
        if target == "lock" and name == "exit" and self.locks:
            self.locks.pop().__exit__(None, None, None)
            return None
        if target == "run" and name == "stopping":
            return self.context.dispatcher.stopping()
        if target in ("run", "run_call") and not name.startswith("_"):
            # any other attribute of the run's ExecutionContext (get_result, checkpoint, ...): a
            # method is called here; the child learns that it is one by asking for it
            attr = getattr(self.context, name)
            if target == "run_call":
                return attr(*args, **kwargs)
            return wire.METHOD if callable(attr) else attr
        raise WorkflowRuntimeError(f"the process of task {self.task.task_id!r} asked for {target}.{name}")


def _end(child: Child, grace: float) -> None:
    if child.wait(grace) is None:
        child.kill()
        child.wait(KILLED_GRACE)


class _Reaper:
    """Waits for children that have answered to exit (their ``atexit`` hooks run), killing any
    that takes longer than its grace - on a thread of its own, started on first use."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Child, float]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def reap(self, child: Child, grace: float) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="graflow-reaper")
                self._thread.start()
        self._queue.put((child, time.monotonic() + grace))

    def _run(self) -> None:
        while True:
            child, deadline = self._queue.get()
            _end(child, max(0.0, deadline - time.monotonic()))


_reaper = _Reaper()
