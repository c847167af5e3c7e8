from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from graflow_celery.errors import ConfigurationError


@dataclass(frozen=True)
class ChannelEntry:
    """One channel key as stored (serialized; in process, the object itself), for a checkpoint: a
    value, or the items of a list (``append``/``prepend``), and the seconds it has left to live
    (None: no expiry of its own). ``items`` defaults to "the value is a list", which holds where
    values are bytes; an in-process channel, whose single value may be a list, says which."""

    value: Any
    ttl: float | None = None
    items: bool | None = None  # None: decided by __post_init__

    def __post_init__(self) -> None:
        if self.items is None:
            object.__setattr__(self, "items", isinstance(self.value, list))


@runtime_checkable
class Channel(Protocol):
    """One run's shared data. Every operation is atomic; ``ttl`` is in seconds.

    ``append``/``prepend`` keep a list under the key and return its new length; ``atomic_add``
    adds to a number (missing counts as 0) and returns the new value (``TypeError`` if the key
    holds something else); ``lock`` is a mutex held across tasks (and across workers on the Celery
    backend), reentrant: the thread that holds it may take it again (nested ``with``).
    """

    name: str

    def set(self, key: str, value: Any, ttl: int | None = None) -> None: ...

    def get(self, key: str, default: Any = None) -> Any: ...

    def delete(self, key: str) -> bool: ...

    def exists(self, key: str) -> bool: ...

    def keys(self) -> list[str]: ...

    def clear(self) -> None: ...

    def append(self, key: str, value: Any, ttl: int | None = None) -> int: ...

    def prepend(self, key: str, value: Any, ttl: int | None = None) -> int: ...

    def atomic_add(self, key: str, amount: int | float = 1) -> int | float: ...

    def lock(self, key: str, timeout: float = 10.0) -> AbstractContextManager[None]: ...

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The values of those keys that exist (one round trip on a remote channel)."""
        ...

    def __iter__(self) -> Iterator[str]: ...

    def export(self) -> dict[str, ChannelEntry]:
        """Every live key as stored (for a checkpoint)."""
        ...

    def load(self, entries: dict[str, ChannelEntry]) -> None:
        """Write keys exported from a checkpoint, with their remaining lifetimes."""
        ...


def check_channel_key(key: object) -> str:
    """A channel key is a non-empty string (on Redis it follows the run's key prefix)."""
    if not isinstance(key, str):
        raise TypeError(f"a channel key must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise ConfigurationError("a channel key must be a non-empty string, got ''")
    return key


def check_amount(amount: object) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"atomic_add needs an int or float amount, got {type(amount).__name__}")


def check_number(key: str, current: object) -> int | float:
    """The stored value ``atomic_add`` adds to; it must be a number (``TypeError``, as graflow)."""
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise TypeError(f"channel key {key!r} holds a {type(current).__name__}, not a number")
    return current


def not_a_list(key: str) -> TypeError:
    """``append``/``prepend`` on a key that holds a single value (``TypeError``, as graflow)."""
    return TypeError(f"channel key {key!r} holds a single value, not a list")
