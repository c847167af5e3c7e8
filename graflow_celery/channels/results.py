"""Task results read through the channel under graflow's keys, ``<task id>.__result__``.

graflow writes each task's result into the channel under that key, and its documentation tells
users to read it there. Here a result is part of the run's state, recorded once and atomically
with its step's transition, so the channel shows it under the same key without keeping a copy:
``get``, ``exists``, ``get_many`` and ``keys`` include it; writing or deleting it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from graflow_celery.channels.base import Channel, ChannelEntry
from graflow_celery.errors import ConfigurationError

RESULT_SUFFIX = ".__result__"
_MISSING = object()


class ResultSource(Protocol):
    """Where a run's results are read (an ``ExecutionContext``, a run handle)."""

    def get_result(self, task_id: str, default: Any = None) -> Any: ...

    def results(self) -> dict[str, Any]: ...


def result_key(task_id: str) -> str:
    return f"{task_id}{RESULT_SUFFIX}"


def _task_of(key: str) -> str | None:
    """The task id a ``<task id>.__result__`` key names, else None."""
    if isinstance(key, str) and key.endswith(RESULT_SUFFIX) and len(key) > len(RESULT_SUFFIX):
        return key[: -len(RESULT_SUFFIX)]
    return None


class ResultKeysChannel:
    """A run's channel plus its results under ``<task id>.__result__`` (read-only)."""

    def __init__(self, channel: Channel, results: ResultSource) -> None:
        self.name = channel.name
        self._channel = channel
        self._results = results

    def _writable(self, key: str) -> str:
        if _task_of(key) is not None:
            raise ConfigurationError(
                f"channel key {key!r} is a task's result, which only the task itself sets (by "
                f"returning it); use another key for your own data")
        return key

    # --- reads: results first ----------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        task_id = _task_of(key)
        if task_id is not None:
            value = self._results.get_result(task_id, _MISSING)
            if value is not _MISSING:
                return value
        return self._channel.get(key, default)

    def exists(self, key: str) -> bool:
        task_id = _task_of(key)
        if task_id is not None and self._results.get_result(task_id, _MISSING) is not _MISSING:
            return True
        return self._channel.exists(key)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found = self._channel.get_many([k for k in keys if _task_of(k) is None])
        for key in keys:
            if _task_of(key) is not None and self.exists(key):
                found[key] = self.get(key)
        return found

    def keys(self) -> list[str]:
        return sorted({*self._channel.keys(), *(result_key(t) for t in self._results.results())})

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    # --- writes: the channel's own keys only --------------------------------------------------

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self._channel.set(self._writable(key), value, ttl)

    def delete(self, key: str) -> bool:
        return self._channel.delete(self._writable(key))

    def append(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._channel.append(self._writable(key), value, ttl)

    def prepend(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._channel.prepend(self._writable(key), value, ttl)

    def atomic_add(self, key: str, amount: int | float = 1) -> int | float:
        return self._channel.atomic_add(self._writable(key), amount)

    def clear(self) -> None:
        """Delete every key of the channel's own; results stay (they are the run's state)."""
        self._channel.clear()

    def lock(self, key: str, timeout: float = 10.0) -> AbstractContextManager[None]:
        return self._channel.lock(key, timeout)

    # --- checkpoints: the channel's own keys (results are saved with the run's state) ---------

    def export(self) -> dict[str, ChannelEntry]:
        return self._channel.export()

    def load(self, entries: dict[str, ChannelEntry]) -> None:
        self._channel.load(entries)

    def __repr__(self) -> str:
        return f"ResultKeysChannel({self._channel!r})"
