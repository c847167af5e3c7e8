"""The Lua scripts under ``lua/``, loaded once per client and called through named wrappers."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import redis


@cache
def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text()


class Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self._apply = client.register_script(_source("apply_transition"))
        self._end_run = client.register_script(_source("end_run"))
        self._channel_get = client.register_script(_source("channel_get"))
        self._retry_step = client.register_script(_source("retry_step"))
        self._snapshot_run = client.register_script(_source("snapshot_run"))

    def apply_transition(
        self, keys: list[str], transition_json: str, result: bytes, ttl: int, done_channel: str
    ) -> tuple[bool, bytes]:
        first, ready = self._apply(keys=keys, args=[transition_json, result, ttl, done_channel])
        return bool(first), ready

    def end_run(self, meta_key: str, status: str, error_json: str, done_channel: str) -> bool:
        ended: Any = self._end_run(keys=[meta_key], args=[status, error_json, done_channel])
        return bool(ended)

    def retry_step(self, frontier_key: str, outbox_key: str, step_id: str, attempt: int,
                   eta: float) -> bytes | None:
        found: Any = self._retry_step(keys=[frontier_key, outbox_key], args=[step_id, attempt, eta])
        return found or None

    def snapshot_run(self, keys: list[str], channel_prefix: str) -> list[Any]:
        return self._snapshot_run(keys=keys, args=[channel_prefix])  # type: ignore[no-any-return]

    def channel_get(self, keys: list[str]) -> list[list[bytes]]:
        """Per key: [] if missing, [b"v", value], or [b"l", item, ...] for a list."""
        return self._channel_get(keys=keys, args=[])  # type: ignore[no-any-return]
