"""The in-process channel: a dict under a lock. Values are kept as the run's serializer stores
them: the Python objects themselves (``InProcessValues``, the default, as in graflow), or bytes in
portable mode, so that a value that could not travel to a Celery worker fails here too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graflow_celery.channels.base import (
    ChannelEntry,
    check_amount,
    check_channel_key,
    check_number,
    not_a_list,
)
from graflow_celery.serialization import InProcessValues, Serializer


class MemoryChannel:
    def __init__(self, name: str = "channel", serializer: Serializer | None = None,
                 mutex: threading.RLock | None = None) -> None:
        self.name = name
        self._ser = serializer or InProcessValues()
        self._data: dict[str, Any] = {}  # as stored: bytes, or in process the objects
        self._lists: dict[str, list[Any]] = {}
        self._expiry: dict[str, float] = {}
        self._mutex = mutex or threading.RLock()
        self._locks: dict[str, threading.RLock] = {}  # reentrant, as graflow's

    def _expire(self, key: str) -> None:
        deadline = self._expiry.get(key)
        if deadline is not None and deadline <= time.monotonic():
            self._data.pop(key, None)
            self._lists.pop(key, None)
            self._expiry.pop(key, None)

    def _set_ttl(self, key: str, ttl: int | None) -> None:
        if ttl is None:
            self._expiry.pop(key, None)
        else:
            self._expiry[key] = time.monotonic() + ttl

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        check_channel_key(key)
        raw = self._ser.dumps(value)
        with self._mutex:
            self._lists.pop(key, None)
            self._data[key] = raw
            self._set_ttl(key, ttl)

    def get(self, key: str, default: Any = None) -> Any:
        check_channel_key(key)
        with self._mutex:
            self._expire(key)
            if key in self._lists:
                return [self._ser.loads(v) for v in self._lists[key]]
            raw = self._data.get(key)
        return default if raw is None else self._ser.loads(raw)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key in keys:
            if self.exists(key):
                found[key] = self.get(key)
        return found

    def delete(self, key: str) -> bool:
        check_channel_key(key)
        with self._mutex:
            self._expire(key)
            existed = key in self._data or key in self._lists
            self._data.pop(key, None)
            self._lists.pop(key, None)
            self._expiry.pop(key, None)
            return existed

    def exists(self, key: str) -> bool:
        check_channel_key(key)
        with self._mutex:
            self._expire(key)
            return key in self._data or key in self._lists

    def keys(self) -> list[str]:
        with self._mutex:
            for key in list(self._expiry):
                self._expire(key)
            return sorted({*self._data, *self._lists})

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def clear(self) -> None:
        with self._mutex:
            self._data.clear()
            self._lists.clear()
            self._expiry.clear()

    def _push(self, key: str, value: Any, ttl: int | None, front: bool) -> int:
        check_channel_key(key)
        raw = self._ser.dumps(value)
        with self._mutex:
            self._expire(key)
            if key in self._data:
                raise not_a_list(key)
            items = self._lists.setdefault(key, [])
            if front:
                items.insert(0, raw)
            else:
                items.append(raw)
            if ttl is not None:
                self._set_ttl(key, ttl)
            return len(items)

    def append(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._push(key, value, ttl, front=False)

    def prepend(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._push(key, value, ttl, front=True)

    def atomic_add(self, key: str, amount: int | float = 1) -> int | float:
        check_channel_key(key)
        check_amount(amount)
        with self._mutex:
            self._expire(key)
            if key in self._lists:
                check_number(key, [])  # raises: a list is not a number
            raw = self._data.get(key)
            new = check_number(key, 0 if raw is None else self._ser.loads(raw)) + amount
            self._data[key] = self._ser.dumps(new)
            return new

    def export(self) -> dict[str, ChannelEntry]:
        with self._mutex:
            now = time.monotonic()
            for key in list(self._expiry):
                self._expire(key)
            entries: dict[str, ChannelEntry] = {}
            for key, raw in self._data.items():
                entries[key] = ChannelEntry(raw, self._left(key, now), items=False)
            for key, items in self._lists.items():
                entries[key] = ChannelEntry(list(items), self._left(key, now), items=True)
            return entries

    def _left(self, key: str, now: float) -> float | None:
        deadline = self._expiry.get(key)
        return None if deadline is None else max(deadline - now, 0.0)

    def load(self, entries: dict[str, ChannelEntry]) -> None:
        with self._mutex:
            for key, entry in entries.items():
                self._data.pop(key, None)
                self._lists.pop(key, None)
                if entry.items:
                    self._lists[key] = list(entry.value)
                else:
                    self._data[key] = entry.value
                self._expiry.pop(key, None)
                if entry.ttl is not None:
                    self._expiry[key] = time.monotonic() + entry.ttl

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[None]:
        check_channel_key(key)
        with self._mutex:
            mutex = self._locks.setdefault(key, threading.RLock())
        if not mutex.acquire(timeout=timeout):
            raise TimeoutError(f"could not take channel lock {key!r} within {timeout}s")
        try:
            yield
        finally:
            mutex.release()
