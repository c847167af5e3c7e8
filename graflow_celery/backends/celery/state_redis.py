"""Where run state lives: one Redis server, or the master of a Redis Sentinel group.

``graflow_state_url`` is a Redis URL (``redis://``, ``rediss://``, ``unix://``) or a Sentinel URL
list, ``sentinel://h1:26379;sentinel://h2:26379/0``, written as kombu's Sentinel transport and
Celery's Sentinel result backend take it, so that broker and state can share one setting. Also as
they do: the first URL's user, password and database are the master's, and the transport options
name the master (``master_name``) and hold ``sentinel_kwargs`` (a password for the sentinels
themselves, say), ``min_other_sentinels`` and socket options.

A Sentinel client is ``Sentinel(...).master_for(master_name)``: each new connection asks the
sentinels where the master is, so after a failover the next command reaches the new master.
Commands cut off by the failover raise ``ConnectionError`` (a demoted master's ``READONLY`` reply
becomes one too), which workers retry (``worker.RETRYABLE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from graflow_celery.errors import ConfigurationError
from graflow_celery.redact import redact

REDIS_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "sentinel"
SENTINEL_PORT = 26379  # kombu's default for a sentinel:// URL without a port

# Transport options a Sentinel state client reads, by kombu's names. Any other option in a shared
# broker_transport_options (visibility_timeout, ...) belongs to the broker and is ignored here.
_CONNECTION_OPTIONS = ("socket_timeout", "socket_connect_timeout", "socket_keepalive",
                       "socket_keepalive_options", "retry_on_timeout", "health_check_interval",
                       "client_name")


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    db: int
    username: str | None
    password: str | None


def is_sentinel(url: str) -> bool:
    return _scheme(url) == SENTINEL_SCHEME


def is_redis_url(url: str) -> bool:
    return _scheme(url) in (*REDIS_SCHEMES, SENTINEL_SCHEME)


def _scheme(url: str) -> str:
    return url.strip().split("://", 1)[0].lower() if "://" in url else ""


def check_state_url(url: str, options: Mapping[str, Any], options_setting: str) -> None:
    """Raise ``ConfigurationError`` naming the problem if ``url`` (a Redis URL, see
    ``is_redis_url``) and its transport options cannot make a client; ``options_setting`` names
    the setting the options came from, for the message."""
    if is_sentinel(url):
        parse_sentinel(url, options, options_setting)


def parse_sentinel(url: str, options: Mapping[str, Any],
                   options_setting: str = "graflow_state_transport_options") -> SentinelTarget:
    chunks = [chunk.strip() for chunk in url.split(";") if chunk.strip()]
    sentinels = []
    for chunk in chunks:
        if _scheme(chunk) != SENTINEL_SCHEME:
            raise ConfigurationError(
                f"graflow_state_url {redact(url)!r}: every URL of a Sentinel list must be sentinel://, "
                f"not {redact(chunk)!r}")
        parts = urlsplit(chunk)
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError as exc:
            raise ConfigurationError(
                f"graflow_state_url {redact(url)!r}: bad port in {redact(chunk)!r}") from exc
        sentinels.append((parts.hostname or "127.0.0.1", port))
    first = urlsplit(chunks[0])
    path = first.path.strip("/")
    if path and not path.isdigit():
        raise ConfigurationError(f"graflow_state_url {redact(url)!r}: the database must be a number, "
                                 f"not {path!r}")
    master_name = options.get("master_name")
    if not master_name or not isinstance(master_name, str):
        raise ConfigurationError(
            f"graflow_state_url {redact(url)!r} is a Redis Sentinel URL, which needs the name of the "
            f"master the sentinels watch: set app.conf.{options_setting} = {{'master_name': 'mymaster'}}")
    if not isinstance(options.get("sentinel_kwargs") or {}, Mapping):
        raise ConfigurationError(f"{options_setting}['sentinel_kwargs'] must be a dict of connection options "
                                 "for the sentinels (e.g. {'password': ...})")
    return SentinelTarget(tuple(sentinels), master_name, int(path or 0),
                          unquote(first.username) if first.username else None,
                          unquote(first.password) if first.password is not None else None)


def state_client(url: str, options: Mapping[str, Any]) -> Any:
    """A client of the Redis that holds run state (bytes in and out: no decode_responses), from a
    URL and options ``check_state_url`` accepted."""
    if not is_sentinel(url):
        return redis.Redis.from_url(url)
    target = parse_sentinel(url, options)
    connection = {k: options[k] for k in _CONNECTION_OPTIONS if options.get(k) is not None}
    sentinel = Sentinel(list(target.sentinels),
                        min_other_sentinels=int(options.get("min_other_sentinels") or 0),
                        sentinel_kwargs=options.get("sentinel_kwargs"), **connection)
    credentials = {k: v for k, v in (("username", target.username), ("password", target.password)) if v}
    return sentinel.master_for(target.master_name, db=target.db, **credentials)
