"""What crosses between a task's own process and the process that runs its step.

Frames: an 8-byte length, then a pickled tuple ``(kind, ...)`` whose payloads are pickled bytes of
their own, so that a payload that cannot be loaded is reported as such instead of breaking the
conversation. Payloads are cloudpickle (functions by import path when the receiver can import
them, by value otherwise: closures, lambdas, ``__main__`` code); exceptions travel as state, so
that an exception whose ``__init__`` takes other arguments than its ``args`` still comes back with
its type.
"""

from __future__ import annotations

import importlib
import io
import pickle
import struct
import sys
import types
from typing import IO, Any

import cloudpickle

from graflow_celery.core.task import TaskWrapper
from graflow_celery.errors import RemoteError
from graflow_celery.redact import exception_message, exception_traceback

_HEADER = struct.Struct(">Q")
METHOD = "graflow_celery:method"  # the answer to a child asking for an attribute that is a method


# --- frames ------------------------------------------------------------------------------------------------

def write_frame(stream: IO[bytes], *message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """The next message, or None when the other side has gone (end of stream, even mid-frame)."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(stream, _HEADER.unpack(header)[0])
    if data is None:
        return None
    message: tuple[Any, ...] = pickle.loads(data)
    return message


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- payloads ----------------------------------------------------------------------------------------------

class _Pickler(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType):
            ref = _task_function_ref(obj)
            if ref is not None:
                return _resolve_task_function, ref
        return super().reducer_override(obj)


def dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def _task_function_ref(func: types.FunctionType) -> tuple[str, str] | None:
    """``(module, qualname)`` of a ``@task`` function: its path names the ``TaskWrapper``, so
    pickle would not find it there and cloudpickle would copy it by value, globals and all. Other
    functions pickle as usual: by reference when importable, by value otherwise (closures,
    lambdas, ``__main__`` code)."""
    module_name, qualname = func.__module__, func.__qualname__
    if not module_name or module_name == "__main__" or "<" in qualname:
        return None
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return (module_name, qualname) if isinstance(obj, TaskWrapper) and obj.func is func else None


def _resolve_task_function(module_name: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj.func


# --- exceptions --------------------------------------------------------------------------------------------

class RemoteTraceback(Exception):
    """The traceback of an exception raised in a task's own process, as text: set as the rebuilt
    exception's ``__cause__``, so that every printed traceback shows where it really happened."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def dump_exception(exc: BaseException) -> tuple[str, str, str, bytes | None]:
    """``(type name, message, traceback text, state)``; state is None if it cannot be pickled."""
    try:
        state: bytes | None = dumps((type(exc), exc.args, dict(vars(exc))))
    except Exception:
        state = None
    return type(exc).__name__, exception_message(exc), exception_traceback(exc), state


def load_exception(type_name: str, message: str, traceback_text: str, state: bytes | None) -> Exception:
    """The exception rebuilt with its type and attributes (without calling its ``__init__``), or a
    ``RemoteError`` stand-in: for a type this process cannot load, and for ``SystemExit``,
    ``KeyboardInterrupt`` and the like, which here are a failure of the task, not of this process."""
    exc: BaseException | None = None
    if state is not None:
        try:
            cls, args, attrs = loads(state)
            exc = cls.__new__(cls, *args)
            exc.args = args
            exc.__dict__.update(attrs)
        except Exception:
            exc = None
    if not isinstance(exc, Exception):
        exc = RemoteError(type_name, message, traceback_text)
    exc.__cause__ = RemoteTraceback(traceback_text)
    return exc
