"""graflow's ``ChannelFactory``: a channel by backend name - "memory", or "redis" (registered by the
Celery backend package, which holds the Redis channel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from graflow_celery.channels.base import Channel
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.errors import ConfigurationError

ChannelMaker = Callable[..., Channel]  # (name, **settings) -> channel


def _memory_channel(name: str, **settings: Any) -> Channel:
    if settings:
        raise ConfigurationError(f"a memory channel takes no settings, got {sorted(settings)}")
    return MemoryChannel(name)


class ChannelFactory:
    _backends: ClassVar[dict[str, ChannelMaker]] = {"memory": _memory_channel}

    @classmethod
    def create_channel(cls, backend: str, name: str, **settings: Any) -> Channel:
        """A channel of its own, outside any run: ``create_channel("redis", "shared",
        redis_client=r)`` (or ``host=``, ``port=``, ``db=``)."""
        maker = cls._backends.get(backend)
        if maker is None:
            raise ConfigurationError(f"unknown channel backend {backend!r}; known: {sorted(cls._backends)}")
        return maker(name, **settings)

    @classmethod
    def register_backend(cls, name: str, maker: ChannelMaker) -> None:
        cls._backends[name] = maker

    @classmethod
    def get_available_backends(cls) -> list[str]:
        return list(cls._backends)

    @classmethod
    def is_backend_available(cls, backend: str) -> bool:
        return backend in cls._backends
