"""A channel view that checks messages against a TypedDict or a pydantic model."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from graflow_celery.channels.base import Channel

T = TypeVar("T")


class TypedChannel(Generic[T]):
    def __init__(self, channel: Channel, message_type: type[T]) -> None:
        self.channel = channel
        self.message_type = message_type
        self._adapter: TypeAdapter[T] = TypeAdapter(message_type)

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
