"""graflow's ``channel_backend="redis"``: a run in this process whose channel lives in Redis, so
that other processes can read and write it while it runs. The channel is the Celery backend's
(``channel.py``), under the run's key prefix, each key living ``ttl`` seconds (the state TTL by
default). Also the "redis" backend of ``ChannelFactory``: a channel of its own by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

from graflow_celery.backends.celery.channel import RedisChannel
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import DEFAULT_TTL
from graflow_celery.backends.memory import MemoryBackend
from graflow_celery.channels.factory import ChannelFactory
from graflow_celery.core.context import ExecutionContext, RunLimits, register_run_factory
from graflow_celery.core.graph import TaskGraph
from graflow_celery.errors import ConfigurationError
from graflow_celery.serialization import Serializer, TaggedJSONSerializer

# What ``config`` may hold: a client, or how to connect (redis-py's names), and the keys' lifetime.
_CONNECTION = {"host", "port", "db", "username", "password", "ssl", "socket_timeout",
               "socket_connect_timeout", "socket_keepalive", "unix_socket_path", "retry_on_timeout",
               "health_check_interval", "client_name"}
_KNOWN = _CONNECTION | {"redis_client", "ttl", "key_prefix"}  # key_prefix: graflow's queue setting
_FEEDBACK_SERVER = {"redis_client", "url", "host", "port", "db"}  # feedback_config naming its own Redis


def redis_client(settings: Mapping[str, Any]) -> redis.Redis:
    """The client for a channel: ``redis_client`` (one answering str is rebuilt to answer bytes,
    on its own pool), or one made from the connection settings (localhost:6379/0 by default)."""
    unknown = sorted(set(settings) - _KNOWN)
    if unknown:
        raise ConfigurationError(f"unknown Redis channel settings {unknown}; known: {sorted(_KNOWN)}")
    client = settings.get("redis_client")
    if client is None:
        return redis.Redis(**{k: v for k, v in settings.items() if k in _CONNECTION})
    if not isinstance(client, redis.Redis):
        raise ConfigurationError(f"redis_client must be a redis.Redis, got {type(client).__name__}")
    pool = client.connection_pool
    if not pool.connection_kwargs.get("decode_responses"):
        return client
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def channel_maker(settings: Mapping[str, Any], client: redis.Redis | None = None
                  ) -> Callable[[str, Serializer], RedisChannel]:
    """Makes channels by name (a run's id) and serializer; bad settings fail here, at once."""
    client = client or redis_client(settings)
    scripts = Scripts(client)
    ttl = settings.get("ttl", DEFAULT_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ConfigurationError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return lambda name, serializer: RedisChannel(client, scripts, name, serializer, ttl)


def _redis_channel_run(graph: TaskGraph, start_node: str | None, *, limits: RunLimits, run_id: str | None,
                       max_workers: int, serializer: Serializer | None, name: str,
                       config: Mapping[str, Any] | None = None, portable: bool = False,
                       feedback_backend: str | None = None,
                       feedback_config: Mapping[str, Any] | None = None) -> ExecutionContext:
    """As graflow: the run's requests for a person are kept in the channel's Redis as well (where
    another process lists and answers them), unless ``feedback_backend`` says otherwise."""
    client = redis_client(config or {})
    if feedback_backend is None:
        feedback_backend, given = "redis", dict(feedback_config or {})
        names_a_server = not _FEEDBACK_SERVER.isdisjoint(given)
        feedback_config = given if names_a_server else {"redis_client": client, **given}
    backend = MemoryBackend(max_workers, serializer, portable=portable, feedback_backend=feedback_backend,
                            feedback_config=dict(feedback_config or {}))
    return backend.new_run(graph, start_node, limits=limits, run_id=run_id, name=name,
                           channel=channel_maker(config or {}, client))


def _factory_channel(name: str, **settings: Any) -> RedisChannel:
    return channel_maker(settings)(name, TaggedJSONSerializer())


register_run_factory("redis", _redis_channel_run)
ChannelFactory.register_backend("redis", _factory_channel)
