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
        self._lease_take = client.register_script(_source("lease_take"))
        self._lease_renew = client.register_script(_source("lease_renew"))
        self._lease_release = client.register_script(_source("lease_release"))
        self._lease_claim = client.register_script(_source("lease_claim"))
        self._lease_due = client.register_script(_source("lease_due"))

    def apply_transition(
        self, keys: list[str], transition_json: str, result: bytes, ttl: int, done_channel: str
    ) -> tuple[bool, bytes]:
        first, ready = self._apply(keys=keys, args=[transition_json, result, ttl, done_channel])
        return bool(first), ready

    def end_run(self, meta_key: str, status: str, error_json: str, done_channel: str) -> bool:
        ended: Any = self._end_run(keys=[meta_key], args=[status, error_json, done_channel])
        return bool(ended)

    def retry_step(self, frontier_key: str, outbox_key: str, leases_key: str, step_id: str, attempt: int,
                   eta: float) -> bytes | None:
        found: Any = self._retry_step(keys=[frontier_key, outbox_key, leases_key],
                                      args=[step_id, attempt, eta])
        return found or None

    # --- leases (``leases.py``): each call may go into a pipeline (``client``) --------------------------

    def lease_take(self, keys: list[str], step_id: str, owner: str, token: str, lease_ms: int, ttl: int,
                   client: Any = None) -> Any:
        """``keys``: meta, frontier, leases. The expiry in ms (Redis time), or 0: not taken."""
        return self._lease_take(keys=keys, args=[step_id, owner, token, lease_ms, ttl], client=client)

    def lease_renew(self, leases_key: str, step_id: str, token: str, lease_ms: int,
                    client: Any = None) -> Any:
        """The new expiry in ms, or 0: this token no longer holds the lease."""
        return self._lease_renew(keys=[leases_key], args=[step_id, token, lease_ms], client=client)

    def lease_release(self, leases_key: str, step_id: str, token: str, client: Any = None) -> Any:
        return self._lease_release(keys=[leases_key], args=[step_id, token], client=client)

    def lease_claim(self, keys: list[str], step_id: str, member_token: str, owner: str, token: str,
                    lease_ms: int, longest_ms: int, client: Any = None) -> Any:
        """``keys``: meta, frontier, leases. ``[b"gone"]``, ``[b"live", expires, own]`` or
        ``[b"claimed", step JSON, expires, previous owner]``."""
        return self._lease_claim(keys=keys, args=[step_id, member_token, owner, token, lease_ms, longest_ms],
                                 client=client)

    def lease_due(self, index_key: str, limit: int) -> tuple[int, list[bytes]]:
        """Redis time in ms, and the index members whose lease expired by then, oldest first."""
        now, *due = self._lease_due(keys=[index_key], args=[limit])
        return int(now), due

    def channel_get(self, keys: list[str]) -> list[list[bytes]]:
        """Per key: [] if missing, [b"v", value], or [b"l", item, ...] for a list."""
        return self._channel_get(keys=keys, args=[])  # type: ignore[no-any-return]
