"""The run's channel in Redis, under the run's key prefix; values pass the run's serializer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.state_codec import decode_snapshot
from graflow_celery.channels.base import ChannelEntry, check_amount, check_number, not_a_list
from graflow_celery.serialization import Serializer

LOCK_EXPIRY = 300  # seconds: a lock whose holder died is freed after this


class RedisChannel:
    def __init__(self, client: redis.Redis, scripts: Scripts, run_id: str, serializer: Serializer,
                 ttl: int) -> None:
        self.name = f"run:{run_id}"
        self._r: Any = client  # bytes in, bytes out (no decode_responses)
        self._scripts = scripts
        self._keys = RunKeys(run_id)
        self._ser = serializer
        self._ttl = ttl
        self._held = threading.local()  # the lock keys this thread holds (a nested lock() re-enters)

    def _k(self, key: str) -> str:
        return self._keys.channel_key(key)

    def _decode(self, raw: list[bytes]) -> tuple[bool, Any]:
        if not raw:
            return False, None
        kind, *values = raw
        if kind == b"v":
            return True, self._ser.loads(values[0])
        return True, [self._ser.loads(v) for v in values]

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._k(key), self._ser.dumps(value), ex=ttl or self._ttl)
        self._index(pipe, key)
        pipe.execute()

    def _index(self, pipe: Any, key: str) -> None:
        pipe.sadd(self._keys.channel_index, key)
        pipe.expire(self._keys.channel_index, self._ttl)

    def get(self, key: str, default: Any = None) -> Any:
        found, value = self._decode(self._scripts.channel_get([self._k(key)])[0])
        return value if found else default

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        raw = self._scripts.channel_get([self._k(k) for k in keys])
        found = {}
        for key, entry in zip(keys, raw, strict=True):
            ok, value = self._decode(entry)
            if ok:
                found[key] = value
        return found

    def delete(self, key: str) -> bool:
        return bool(self._r.delete(self._k(key)))

    def exists(self, key: str) -> bool:
        return bool(self._r.exists(self._k(key)))

    def keys(self) -> list[str]:
        names = sorted(k.decode() for k in self._r.smembers(self._keys.channel_index))
        if not names:
            return []
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.exists(self._k(name))
        return [n for n, alive in zip(names, pipe.execute(), strict=True) if alive]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def clear(self) -> None:
        names = [k.decode() for k in self._r.smembers(self._keys.channel_index)]
        if names:
            self._r.delete(*(self._k(n) for n in names))
        self._r.delete(self._keys.channel_index)

    def _push(self, key: str, value: Any, ttl: int | None, front: bool) -> int:
        pipe = self._r.pipeline(transaction=True)
        (pipe.lpush if front else pipe.rpush)(self._k(key), self._ser.dumps(value))
        pipe.expire(self._k(key), ttl or self._ttl)
        self._index(pipe, key)
        try:
            length = pipe.execute()[0]
        except redis.ResponseError as exc:
            raise not_a_list(key) from exc
        return int(length)

    def append(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._push(key, value, ttl, front=False)

    def prepend(self, key: str, value: Any, ttl: int | None = None) -> int:
        return self._push(key, value, ttl, front=True)

    def atomic_add(self, key: str, amount: int | float = 1) -> int | float:
        """Read-add-write under WATCH: exact for any serializer; a conflicting writer retries."""
        check_amount(amount)
        full_key = self._k(key)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(full_key)
                    try:
                        raw = pipe.get(full_key)
                    except redis.ResponseError as exc:  # WRONGTYPE: the key holds a list
                        raise TypeError(f"channel key {key!r} holds a list, not a number") from exc
                    new = check_number(key, 0 if raw is None else self._ser.loads(raw)) + amount
                    ttl = pipe.ttl(full_key)
                    pipe.multi()
                    pipe.set(full_key, self._ser.dumps(new), ex=ttl if ttl and ttl > 0 else self._ttl)
                    self._index(pipe, key)
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue

    def export(self) -> dict[str, ChannelEntry]:
        k = self._keys
        return decode_snapshot(self._scripts.snapshot_run(k.snapshot_keys(), k.channel_prefix))[3]

    def load(self, entries: dict[str, ChannelEntry]) -> None:
        pipe = self._r.pipeline(transaction=True)
        for key, entry in entries.items():
            full_key = self._k(key)
            pipe.delete(full_key)
            if entry.items:
                if entry.value:
                    pipe.rpush(full_key, *entry.value)
            else:
                pipe.set(full_key, entry.value)
            if entry.ttl is not None:
                pipe.pexpire(full_key, max(int(entry.ttl * 1000), 1))
            else:
                pipe.expire(full_key, self._ttl)
            self._index(pipe, key)
        pipe.execute()

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[None]:
        """A mutex across workers; waits up to ``timeout`` seconds to take it. Reentrant: inside
        a ``with`` that holds it, this thread takes it again at once (the outermost releases)."""
        held: set[str] = self._held.__dict__.setdefault("keys", set())
        if key in held:
            yield
            return
        mutex = self._r.lock(self._keys.lock_key(key), timeout=LOCK_EXPIRY, blocking_timeout=timeout)
        if not mutex.acquire():
            raise TimeoutError(f"could not take channel lock {key!r} within {timeout}s")
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            mutex.release()
