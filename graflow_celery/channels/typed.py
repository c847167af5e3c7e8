"""A channel view that checks messages against a TypedDict or a pydantic model."""

from __future__ import annotations

import sys
import typing
from typing import Any, Generic, TypeVar

import typing_extensions
from pydantic import BaseModel, TypeAdapter, ValidationError

from graflow_celery.channels.base import Channel
from graflow_celery.serialization.registry import register_annotated

T = TypeVar("T")


def _validatable(message_type: Any) -> Any:
    """pydantic validates ``typing.TypedDict`` only from Python 3.12; rebuild it as the
    ``typing_extensions`` kind with the same fields so it works everywhere."""
    if sys.version_info < (3, 12) and typing.is_typeddict(message_type):
        hints = typing.get_type_hints(message_type)
        return typing_extensions.TypedDict(  # type: ignore[operator]
            message_type.__name__, hints, total=message_type.__total__
        )
    return message_type


class TypedChannel(Generic[T]):
    def __init__(self, channel: Channel, message_type: type[T]) -> None:
        self.channel = channel
        self.message_type = message_type
        register_annotated(message_type)  # pydantic models in it, a TypedDict's fields included
        self._adapter: TypeAdapter[T] = TypeAdapter(_validatable(message_type))

    def _check(self, key: str, message: Any) -> T:
        try:
            return self._adapter.validate_python(message)
        except ValidationError as exc:
            raise TypeError(
                f"channel key {key!r}: value is not a valid {self.message_type.__name__}: {exc}"
            ) from exc

    def send(self, key: str, message: T, ttl: int | None = None) -> None:
        value = self._check(key, message)
        if not isinstance(value, BaseModel):
            value = self._adapter.dump_python(value, mode="python")
        self.channel.set(key, value, ttl=ttl)

    def receive(self, key: str, default: T | None = None) -> T | None:
        if not self.channel.exists(key):
            return default
        return self._check(key, self.channel.get(key))

    # the plain channel operations, for convenience
    def set(self, key: str, value: T, ttl: int | None = None) -> None:
        self.send(key, value, ttl)

    def get(self, key: str, default: T | None = None) -> T | None:
        return self.receive(key, default)

    def exists(self, key: str) -> bool:
        return self.channel.exists(key)

    def delete(self, key: str) -> bool:
        return self.channel.delete(key)

    def keys(self) -> list[str]:
        return self.channel.keys()
