"""A run's state (``core.run_state.RunState``) to and from the Redis hashes that
``lua/apply_transition.lua`` keeps - the field layout is documented at the top of that script."""

from __future__ import annotations

import json
from typing import Any

from graflow_celery.backends.celery.feedback_codec import records_of, write_records
from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.channels.base import ChannelEntry
from graflow_celery.core.run_state import BarrierState, RunState, ScopeState
from graflow_celery.core.steps import BranchOutcome, Step

RUNS = "runs|"  # meta field prefix: "runs|<node>" -> the node's steps made ready to run so far


def _pairs(flat: list[bytes]) -> dict[str, bytes]:
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def _step(raw: bytes | str | None) -> Step | None:
    return Step.from_dict(json.loads(raw)) if raw else None


def token_field(node: str, src: str) -> str:
    return f"{len(node.encode())}:{node}|{src}"


def _token_edge(field: str) -> tuple[str, str]:
    length, _, rest = field.partition(":")
    raw = rest.encode()
    node = raw[:int(length)].decode()
    return node, raw[int(length) + 1:].decode()


def decode_snapshot(raw: list[Any]) -> tuple[RunState, bytes | None, dict[str, bytes],
                                             dict[str, ChannelEntry]]:
    """What ``lua/snapshot_run.lua`` read: the state, the graph JSON, the specs of nodes added at
    run time, and the channel."""
    meta, applied, results, scopes, tokens, barriers, dynamic, graph, frontier, channel, *feedback = raw
    meta = _pairs(meta)
    state = RunState(
        status=meta.get("status", b"missing").decode(),  # type: ignore[arg-type]
        error=json.loads(meta["error"]) if meta.get("error") else None,
        seq=int(meta.get("seq", 0)),
        applied={a.decode() for a in applied},
        frontier={s.id: s for s in (Step.from_dict(json.loads(v)) for v in _pairs(frontier).values())},
        results=_pairs(results),
        last_result=meta.get("last_result") or None,
        failed_step=_step(meta.get("failed_step")),
        runs={f[len(RUNS):]: int(v) for f, v in meta.items() if f.startswith(RUNS)},
        feedback=records_of(_pairs(feedback[0])) if feedback else {},
    )
    for field, value in _pairs(tokens).items():
        node, src = _token_edge(field)
        if value:
            state.tokens.setdefault(node, {})[src] = value.decode()
    for field, value in _pairs(scopes).items():
        scope_id, _, kind = field.rpartition("|")
        scope = state.scopes.setdefault(scope_id, ScopeState())
        if kind == "n":
            scope.inflight = int(value)
        elif kind == "last":
            scope.last_result = value
        elif kind == "err":
            scope.error = value.decode()
        elif kind == "errstep":
            scope.error_step = _step(value)
    state.barriers = _barriers(_pairs(barriers))
    entries = {}
    for name, kind, ttl_ms, *values in channel:
        ttl = None if int(ttl_ms) < 0 else int(ttl_ms) / 1000
        entries[name.decode()] = ChannelEntry(list(values) if kind == b"l" else values[0], ttl)
    return state, graph or None, _pairs(dynamic), entries


def _barriers(fields: dict[str, bytes]) -> dict[str, BarrierState]:
    barriers: dict[str, BarrierState] = {}
    for field, value in fields.items():
        group, kind, *_ = field.split("|")
        if kind == "n":
            barriers[group] = BarrierState(fields[f"{group}|node"].decode(),
                                           fields[f"{group}|scope"].decode(), [None] * int(value))
    for group, barrier in barriers.items():
        for i in range(len(barrier.outcomes)):
            ok = fields.get(f"{group}|ok|{i}")
            if ok is None:
                continue
            err = fields.get(f"{group}|err|{i}")
            barrier.outcomes[i] = BranchOutcome(ok == b"1", err.decode() if err else None,
                                                fields.get(f"{group}|res|{i}") or None,
                                                _step(fields.get(f"{group}|errstep|{i}")))
    return barriers


def state_fields(state: RunState) -> dict[str, dict[str, Any]]:
    """Hash fields that hold ``state``, by key name of ``RunKeys`` (meta: only the state's fields)."""
    meta: dict[str, Any] = {"status": state.status, "seq": state.seq, "applied_n": len(state.applied),
                            "error": json.dumps(state.error) if state.error is not None else None,
                            "last_result": state.last_result,
                            "failed_step": _dumps(state.failed_step) if state.failed_step else None,
                            **{f"{RUNS}{node}": n for node, n in state.runs.items()}}
    scopes: dict[str, Any] = {}
    for scope_id, scope in state.scopes.items():
        scopes[f"{scope_id}|n"] = scope.inflight
        if scope.last_result is not None:
            scopes[f"{scope_id}|last"] = scope.last_result
        if scope.error is not None:
            scopes[f"{scope_id}|err"] = scope.error
            scopes[f"{scope_id}|errstep"] = _dumps(scope.error_step)
    barriers: dict[str, Any] = {}
    for group, barrier in state.barriers.items():
        barriers.update({f"{group}|n": len(barrier.outcomes), f"{group}|done": barrier.done,
                         f"{group}|node": barrier.node, f"{group}|scope": barrier.scope})
        for i, outcome in enumerate(barrier.outcomes):
            if outcome is None:
                continue
            barriers[f"{group}|ok|{i}"] = "1" if outcome.success else "0"
            if outcome.error_message is not None:
                barriers[f"{group}|err|{i}"] = outcome.error_message
                barriers[f"{group}|errstep|{i}"] = _dumps(outcome.error_step)
            if outcome.result is not None:
                barriers[f"{group}|res|{i}"] = outcome.result
    return {
        "meta": meta,
        "results": dict(state.results),
        "scopes": scopes,
        "tokens": {token_field(node, src): q for node, edges in state.tokens.items()
                   for src, q in edges.items() if q},
        "barriers": barriers,
        "frontier": {sid: json.dumps(step.to_dict()) for sid, step in state.frontier.items()},
    }


def _dumps(step: Step | None) -> str:
    return json.dumps(step.to_dict()) if step is not None else ""


def write_state(pipe: Any, keys: RunKeys, state: RunState, ttl: int) -> None:
    """Queue on ``pipe`` the commands that replace the run's counting state with ``state``."""
    fields = state_fields(state)
    counting = [keys.applied, keys.outbox, keys.results, keys.scopes, keys.tokens, keys.barriers,
                keys.frontier, keys.handoffs]
    pipe.delete(*counting)
    meta = fields["meta"]
    pipe.hset(keys.meta, mapping={k: v for k, v in meta.items() if v is not None})
    absent = [k for k, v in meta.items() if v is None]
    if absent:
        pipe.hdel(keys.meta, *absent)
    if state.applied:
        pipe.sadd(keys.applied, *sorted(state.applied, key=int))
    for name in ("results", "scopes", "tokens", "barriers", "frontier"):
        if fields[name]:
            pipe.hset(getattr(keys, name), mapping=fields[name])
    for key in [keys.meta, *counting]:
        pipe.expire(key, ttl)
    write_records(pipe, keys, state.feedback, ttl)  # requests for feedback, with their answers
