"""The child side of ``handler="process"``: ``python -m graflow_celery.handlers.process_child``.

It reads one job on stdin, runs the task's function, writes the answer on stdout, and exits. What
the task prints goes to stderr, so that stdout carries nothing but the conversation; stdin is
read by a thread of its own, so that the child ends at once when the process that started it goes
away (its stdin closes), whatever the task is doing.
"""

from __future__ import annotations

import faulthandler
import os
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from graflow_celery.errors import ConfigurationError, SerializationError
from graflow_celery.handlers import wire
from graflow_celery.redact import describe

PARENT_GONE = 70  # exit status when the process that started the child has gone


class Link:
    """The conversation with the parent: frames out on the original stdout, frames in on the
    original stdin (read by a daemon thread), one request at a time."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._writer = writer
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.answered = False
        threading.Thread(target=self._read, args=(reader,), daemon=True, name="graflow-link").start()

    @classmethod
    def over_stdio(cls) -> Link:
        reader = os.fdopen(os.dup(0), "rb")
        writer = os.fdopen(os.dup(1), "wb")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the task cannot read the conversation
        os.close(devnull)
        os.dup2(2, 1)  # nor write into it: print() goes to stderr
        return cls(reader, writer)

    def _read(self, reader: IO[bytes]) -> None:
        while True:
            message = wire.read_frame(reader)
            if message is None:
                if not self.answered:
                    os._exit(PARENT_GONE)
                return
            self._inbox.put(message)

    def receive(self) -> tuple[Any, ...]:
        return self._inbox.get()

    def send(self, *message: Any) -> None:
        with self._lock:
            wire.write_frame(self._writer, *message)

    def answer(self, *message: Any) -> None:
        self.answered = True
        self.send(*message)

    def call(self, target: str, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            wire.write_frame(self._writer, "call", target, name, wire.dumps((args, kwargs)))
            reply = self._inbox.get()
        if reply[0] == "raise":
            raise wire.load_exception(*reply[1])
        return wire.loads(reply[1])


class ChannelProxy:
    """The run's channel, in the task's process: every call is made by the parent on the real one
    (so it is atomic as there, and a lock is held across processes and workers)."""

    def __init__(self, link: Link, name: str) -> None:
        self._link = link
        self.name = name

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._link.call("channel", name, *args, **kwargs)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self._call("set", key, value, ttl)

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", key))

    def exists(self, key: str) -> bool:
        return bool(self._call("exists", key))

    def keys(self) -> list[str]:
        return list(self._call("keys"))

    def clear(self) -> None:
        self._call("clear")

    def append(self, key: str, value: Any, ttl: int | None = None) -> int:
        return int(self._call("append", key, value, ttl))

    def prepend(self, key: str, value: Any, ttl: int | None = None) -> int:
        return int(self._call("prepend", key, value, ttl))

    def atomic_add(self, key: str, amount: int | float = 1) -> int | float:
        value: int | float = self._call("atomic_add", key, amount)
        return value

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return dict(self._call("get_many", keys))

    def export(self) -> Any:
        return self._call("export")

    def load(self, entries: Any) -> None:
        self._call("load", entries)

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[None]:
        self._link.call("lock", "enter", key, timeout)
        try:
            yield
        finally:
            self._link.call("lock", "exit")

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


class _Stopping:
    def __init__(self, link: Link) -> None:
        self._link = link

    def stopping(self) -> bool:
        return bool(self._link.call("run", "stopping"))


class ChildRun:
    """What the task's ``TaskContext`` reaches in the child (its ``execution_context``): the
    channel, whether a shutdown is under way, and any other attribute of the run's
    ``ExecutionContext`` - asked of the parent (``get_result``, ``checkpoint``, ...)."""

    def __init__(self, link: Link, run_id: str, name: str, channel_name: str) -> None:
        self._link = link
        self.run_id = run_id
        self.name = name
        self.channel = ChannelProxy(link, channel_name)
        self.dispatcher = _Stopping(link)

    def get_channel(self) -> ChannelProxy:
        return self.channel

    @property
    def feedback(self) -> Any:
        raise ConfigurationError(
            "request_feedback is not available in a task with handler='process': ask in a task that "
            "runs in the worker (the default handler) and pass the answer on")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._link.call("run", name)
        if value == wire.METHOD:
            return lambda *args, **kwargs: self._link.call("run_call", name, *args, **kwargs)
        return value


def main() -> int:
    faulthandler.enable()  # a crash in C code leaves its Python traceback on stderr
    link = Link.over_stdio()
    job_data = link.receive()[1]
    try:
        job = wire.loads(job_data)
    except BaseException as exc:
        error = SerializationError(f"the task could not be loaded in its own process: {describe(exc)}")
        link.answer("error", wire.dump_exception(error), None)
        return 0
    context_type, context_state = job["task_context"]
    tctx = context_type.__new__(context_type)
    tctx.__dict__.update(context_state)
    tctx.execution_context = ChildRun(link, job["run_id"], job["name"], job["channel"])
    args = [tctx, *job["args"]] if job["inject_context"] else list(job["args"])
    try:
        value = job["func"](*args, **job["kwargs"])
    except BaseException as exc:  # the task's failure, whatever it is, is reported, not raised here
        link.answer("error", wire.dump_exception(exc), _requests(tctx))
        return 0
    try:
        answer = ("done", wire.dumps(value), wire.dumps(tctx.requests))
    except Exception as exc:
        error = SerializationError(f"task {job['task_id']!r}: its result or a task it asked for cannot "
                                   f"leave its own process: {describe(exc)}")
        link.answer("error", wire.dump_exception(error), _requests(tctx))
        return 0
    link.answer(*answer)
    return 0


def _requests(tctx: Any) -> bytes | None:
    try:
        return wire.dumps(tctx.requests)
    except Exception:  # the task failed anyway; what it asked for cannot be sent
        return None


if __name__ == "__main__":
    sys.exit(main())
