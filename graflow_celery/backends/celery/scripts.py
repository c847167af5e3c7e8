"""The Lua scripts under ``lua/``, loaded once per client and called through named wrappers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError


@cache
def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text()


class Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._apply = client.register_script(_source("apply_transition"))
        self._end_run = client.register_script(_source("end_run"))
        self._create_run = client.register_script(_source("create_run"))
        self._channel_get = client.register_script(_source("channel_get"))
        self._retry_step = client.register_script(_source("retry_step"))
        self._snapshot_run = client.register_script(_source("snapshot_run"))
        self._lease_take = client.register_script(_source("lease_take"))
        self._lease_renew = client.register_script(_source("lease_renew"))
        self._lease_release = client.register_script(_source("lease_release"))
        self._lease_claim = client.register_script(_source("lease_claim"))
        self._lease_due = client.register_script(_source("lease_due"))
        self._sent_watch = client.register_script(_source("sent_watch"))
        self._sent_claim = client.register_script(_source("sent_claim"))
        self._feedback_ask = client.register_script(_source("feedback_ask"))
        self._feedback_answer = client.register_script(_source("feedback_answer"))
        self._feedback_due = client.register_script(_source("feedback_due"))

    def apply_transition(
        self, keys: list[str], transition_json: str, result: bytes, ttl: int, done_channel: str
    ) -> tuple[bool, bytes, str | None]:
        """(applied now, ready steps as JSON, the status the run ended with in this application)."""
        first, ready, *ended = self._apply(keys=keys, args=[transition_json, result, ttl, done_channel])
        return bool(first), ready, (ended[0].decode() or None) if ended else None

    def create_run(self, keys: list[str], step_id: str, step_json: str, runs_field: str, ttl: int,
                   pipe: Any = None) -> Any:
        """``keys``: meta, scopes, frontier. The status the run had: "pending" if it runs now (bytes
        when queued on ``pipe``)."""
        before: Any = self._call(self._create_run, keys, [step_id, step_json, runs_field, ttl], pipe)
        if pipe is not None:
            return before
        return before.decode() if isinstance(before, bytes) else str(before)

    def end_run(self, meta_key: str, status: str, error_json: str, done_channel: str,
                only_from: str = "running") -> bool:
        ended: Any = self._end_run(keys=[meta_key], args=[status, error_json, done_channel, only_from])
        return bool(ended)

    def retry_step(self, frontier_key: str, outbox_key: str, leases_key: str, step_id: str, attempt: int,
                   eta: float) -> bytes | None:
        found: Any = self._retry_step(keys=[frontier_key, outbox_key, leases_key],
                                      args=[step_id, attempt, eta])
        return found or None

    def snapshot_run(self, keys: list[str], channel_prefix: str) -> list[Any]:
        return self._snapshot_run(keys=keys, args=[channel_prefix])  # type: ignore[no-any-return]

    # --- requests for feedback (``feedback_store.py``); ``keys``: ``RunKeys.feedback_keys()`` -----------

    def feedback_ask(self, keys: list[str], key: str, request_json: str, step_id: str, timeout_ms: int | None,
                     parks: bool, ttl: int) -> list[Any]:
        """[request JSON, state JSON, answer JSON or None, Redis time in ms, 1 if made now, 1 if this
        call is the first to find it settled (it is marked read)]."""
        args = [key, request_json, step_id, "" if timeout_ms is None else timeout_ms, "1" if parks else "0",
                ttl]
        return self._feedback_ask(keys=keys, args=args)  # type: ignore[no-any-return]

    def feedback_answer(self, keys: list[str], key: str, answer_json: str, ttl: int | None,
                        channel: str) -> list[Any]:
        """[b"unknown"] or [verdict (b"ok", b"ended", b"answered", b"timed_out"), request, state, answer,
        the parked step to send again]."""
        args = [key, answer_json, "" if ttl is None else ttl, channel]
        return self._feedback_answer(keys=keys, args=args)  # type: ignore[no-any-return]

    def feedback_due(self, keys: list[str], key: str) -> list[Any]:
        """[b"ended" | b"gone" | b"settled" | b"waits" | b"busy"], [b"early", ms left], [b"due", step JSON
        or None] or [b"answered", step JSON]."""
        return self._feedback_due(keys=keys, args=[key])  # type: ignore[no-any-return]
    # --- leases (``leases.py``, ``sweep.py``): each call may be queued on a ``pipeline`` ----------------

    def pipeline(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run what ``queue`` puts on a pipeline in one round trip (no transaction: the lease index
        is in another cluster slot than a run's keys). Scripts go in by sha alone - redis-py would
        send SCRIPT EXISTS before every such pipeline - and a server that lost them (restarted,
        flushed) gets them again, then the whole pipeline runs once more (each command in it
        may run twice)."""
        for attempt in (0, 1):
            pipe = self._client.pipeline(transaction=False)
            queue(pipe)
            try:
                return list(pipe.execute())
            except NoScriptError:
                if attempt:
                    raise
                for script in [v for v in vars(self).values() if isinstance(v, Script)]:
                    script.sha = self._client.script_load(script.script)
        raise AssertionError("unreachable")

    @staticmethod
    def _call(script: Script, keys: list[str], args: list[Any], pipe: Any) -> Any:
        if pipe is None:
            return script(keys=keys, args=args)
        return pipe.evalsha(script.sha, len(keys), *keys, *args)

    def lease_take(self, keys: list[str], step_id: str, owner: str, token: str, lease_ms: int, ttl: int,
                   pipe: Any = None, free_only: bool = False) -> Any:
        """``keys``: meta, frontier, leases. The expiry in ms (Redis time), 0: not taken (not on the
        frontier), -1: ``free_only`` and another delivery holds it."""
        args = [step_id, owner, token, lease_ms, ttl, "1" if free_only else "0"]
        return self._call(self._lease_take, keys, args, pipe)

    def lease_renew(self, leases_key: str, step_id: str, token: str, lease_ms: int, pipe: Any = None) -> Any:
        """The new expiry in ms, or 0: this token no longer holds the lease."""
        return self._call(self._lease_renew, [leases_key], [step_id, token, lease_ms], pipe)

    def lease_release(self, leases_key: str, step_id: str, token: str, pipe: Any = None) -> Any:
        return self._call(self._lease_release, [leases_key], [step_id, token], pipe)

    def lease_claim(self, keys: list[str], step_id: str, member_token: str, owner: str, token: str,
                    lease_ms: int, longest_ms: int, pipe: Any = None) -> Any:
        """``keys``: meta, frontier, leases. ``[b"gone"]``, ``[b"live", expires, own]`` or
        ``[b"claimed", step JSON, expires, previous owner]``."""
        args = [step_id, member_token, owner, token, lease_ms, longest_ms]
        return self._call(self._lease_claim, keys, args, pipe)

    def lease_due(self, index_key: str, limit: int) -> tuple[int, list[bytes]]:
        """Redis time in ms, and the index members whose lease expired by then, oldest first."""
        now, *due = self._lease_due(keys=[index_key], args=[limit])
        return int(now), due

    # --- the sent index (``sent_index.py``, ``sent_sweep.py``): each call may be queued on a pipeline ----

    def sent_watch(self, index_key: str, grace_ms: int, members: list[tuple[str, int]], pipe: Any = None,
                   inline: bool = False) -> Any:
        """Score each (member, countdown in ms) with Redis time + grace + its countdown. ``inline``:
        sent as source (EVAL), so that it cannot fail for a script the server lost, and a pipeline
        whose other commands must not run twice is never run again for it."""
        args: list[Any] = [grace_ms]
        for member, countdown_ms in members:
            args += [member, countdown_ms]
        if inline and pipe is not None:
            return pipe.eval(self._sent_watch.script, 1, index_key, *args)
        return self._call(self._sent_watch, [index_key], args, pipe)

    def sent_claim(self, keys: list[str], step_id: str, attempt: int, grace_ms: int, longest_ms: int,
                   ttl: int, pipe: Any = None) -> Any:
        """``keys``: meta, frontier, leases, fbwait, handoffs, resent. ``[b"gone"]``, ``[b"early", due]``
        or ``[b"claimed", step JSON, due, n]``."""
        return self._call(self._sent_claim, keys, [step_id, attempt, grace_ms, longest_ms, ttl], pipe)

    def channel_get(self, keys: list[str]) -> list[list[bytes]]:
        """Per key: [] if missing, [b"v", value], or [b"l", item, ...] for a list."""
        return self._channel_get(keys=keys, args=[])  # type: ignore[no-any-return]
