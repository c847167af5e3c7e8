"""Run state in Redis: the same contract as the memory store, each change one Lua call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.backends.celery.leases import Lease, LeaseKeeper
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.sent_index import SentIndex
from graflow_celery.backends.celery.state_codec import RUNS, decode_snapshot, write_state
from graflow_celery.channels.base import ChannelEntry
from graflow_celery.core.errors_record import short_message, storable
from graflow_celery.core.progress import GraphShape
from graflow_celery.core.run_state import RunState, refused_start
from graflow_celery.core.steps import (
    FINISHED,
    Applied,
    BranchOutcome,
    NewStep,
    RunStatus,
    Step,
    StepStart,
    Transition,
)
from graflow_celery.errors import ConfigurationError
from graflow_celery.graph_codec import graph_shape

DEFAULT_TTL = 7 * 24 * 3600


def _steps(raw: bytes | str | None) -> list[Step]:
    return [Step.from_dict(d) for d in json.loads(raw or "[]")]


def _retry(raw: bytes | None) -> tuple[Step, float] | None:
    """A retry outbox entry: the next attempt, and how long until it is due."""
    if raw is None:
        return None
    entry = json.loads(raw)
    return Step.from_dict(entry["step"]), max(0.0, float(entry["eta"]) - time.time())


class RedisRunStore:
    def __init__(self, client: redis.Redis, scripts: Scripts, run_id: str, ttl: int = DEFAULT_TTL,
                 node_codec: Any = None, leases: LeaseKeeper | None = None,
                 sent: SentIndex | None = None) -> None:
        self.run_id = run_id
        self.keys = RunKeys(run_id)
        self._r: Any = client  # bytes in, bytes out (no decode_responses)
        self._scripts = scripts
        self.ttl = ttl
        self._node_codec = node_codec  # turns nodes added at run time into stored specs
        self._leases = leases  # None: steps run without a lease (a store used only to read or submit)
        self._held: dict[str, Lease] = {}  # step id -> the lease this store's delivery holds
        self.lease_at_begin = False  # take the lease in begin's round trip (step messages)
        self._pretaken: dict[str, Lease | str | None] = {}  # step id -> what begin's take gave
        self._sent = sent  # None: step messages are not watched (graflow_send_grace = 0)
        # outbox field -> the (step, countdown) it holds, to watch once acknowledged as sent
        self._unacked: dict[str, list[tuple[Step, float]]] = {}
        self._created: str | None = None  # the first step's id, watched by ``create``
        self._countdowns: dict[str, float] = {}  # step id -> the countdown it was sent with

    # --- lifecycle ---------------------------------------------------------------------------------

    def initialize(self, graph_json: str, meta: dict[str, Any]) -> None:
        """Store the graph and the run's settings before its first step is created."""
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self.keys.graph, graph_json, ex=self.ttl)
        pipe.hset(self.keys.meta, mapping={**meta, "status": "pending", "seq": 0, "applied_n": 0,
                                           "created": time.time()})
        pipe.expire(self.keys.meta, self.ttl)
        pipe.execute()

    def create(self, first: NewStep) -> Step:
        step = Step("1", first.node)
        keys = self.keys

        def queue(pipe: Any) -> None:  # the first step is watched in the same round trip; inline, so
            # that a server missing the watch script never runs the creation twice
            self._scripts.create_run([keys.meta, keys.scopes, keys.frontier], step.id,
                                     json.dumps(step.to_dict()), f"{RUNS}{first.node}", self.ttl, pipe)
            if self._sent is not None:
                self._sent.queue_watch(pipe, self.run_id, [(step, 0.0)], inline=True)

        raw = self._scripts.pipeline(queue)[0]
        before = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._created = step.id
        if before != "pending":
            raise refused_start(self.run_id, before, self.error())  # a discard is final: its reason stays
        return step

    def begin(self, step: Step) -> StepStart:
        """One round trip. With ``lease_at_begin`` (a step message about to run), the step's lease
        is taken in it too, if no other delivery holds it: ``lease()`` then has nothing to send,
        and ``release_unused()`` gives it back if the message is not admitted."""
        pending = None
        if self.lease_at_begin and self._leases is not None:
            pending = self._leases.prepare(self.keys, step.id, self.ttl, free_only=True)

        def queue(pipe: Any) -> None:
            pipe.hget(self.keys.meta, "status")
            pipe.sismember(self.keys.applied, step.id)
            pipe.hget(self.keys.outbox, step.id)
            pipe.hget(self.keys.frontier, step.id)
            pipe.hget(self.keys.outbox, f"{step.id}|retry")
            pipe.hget(self.keys.handoffs, step.id)
            if pending is not None:
                self._leases.queue_take(pipe, pending)  # type: ignore[union-attr]
            if self.lease_at_begin and self._sent is not None:
                self._sent.queue_started(pipe, self.run_id, step)

        status, was_applied, outbox, entry, retry, token, *taken = self._scripts.pipeline(queue)
        if pending is not None and self._leases is not None:
            self._pretaken[step.id] = self._leases.finish(pending, taken[0])
        run_status: RunStatus = (status or b"missing").decode()  # type: ignore[assignment]
        unsent, next_attempt = (_steps(outbox) if outbox else None), _retry(retry)
        if unsent:  # an earlier delivery's: sent again, then acknowledged
            self._unacked[step.id] = [(s, 0.0) for s in unsent]
        if next_attempt is not None:
            self._unacked[f"{step.id}|retry"] = [next_attempt]
        return StepStart(run_status, bool(was_applied), unsent,
                         Step.from_dict(json.loads(entry)) if entry else None, next_attempt,
                         token.decode() if token else None)

    def apply(self, t: Transition) -> Applied:
        payload = {
            "step": t.step.to_dict(),
            "kind": t.kind,
            "run_end": t.run_end,
            "error": json.dumps(storable(t.error)) if t.error is not None else None,
            "branch_error": short_message(t.error) if t.kind == "failed" and t.error else None,
            "enqueue": [{"node": n.node, "phase": n.phase,
                         "data": n.data.hex() if n.data is not None else None} for n in t.enqueue],
            "deliver": [{"node": d.node, "src": d.src, "required": list(d.required), "skip": d.skip}
                        for d in t.deliver],
            "launch": t.launch,
            "new_nodes": self._node_codec.encode_new(t.new_nodes) if t.new_nodes else {},
        }
        first, ready, ended = self._scripts.apply_transition(
            self.keys.state_keys(), json.dumps(payload), t.result or b"", self.ttl, self.keys.done_channel
        )
        if first:
            self._settled(t.step.id)
        steps = _steps(ready)
        if steps:
            self._unacked[t.step.id] = [(s, 0.0) for s in steps]
        return Applied(first, steps, ended)  # type: ignore[arg-type]

    def snapshot_all(self) -> tuple[RunState, bytes | None, dict[str, bytes], dict[str, ChannelEntry]]:
        """The run at one instant: state, graph JSON, nodes added at run time, channel."""
        k = self.keys
        return decode_snapshot(self._scripts.snapshot_run(k.snapshot_keys(), k.channel_prefix))

    def snapshot(self, channel: object = None) -> tuple[RunState, dict[str, ChannelEntry]]:
        """The state and the channel at one instant (the channel is read from this run's keys)."""
        state, _, _, entries = self.snapshot_all()
        return state, entries

    def restore(self, state: RunState, expected_status: str | None = None) -> None:
        """Replace the run's counting state with ``state`` (one MULTI). ``expected_status``: only
        if the run still has that status (else ``ConfigurationError``)."""
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.keys.meta)
                    status = pipe.hget(self.keys.meta, "status")
                    if expected_status is not None and (status or b"").decode() != expected_status:
                        raise ConfigurationError(
                            f"run {self.run_id} is {(status or b'missing').decode()}, not {expected_status}")
                    pipe.multi()
                    write_state(pipe, self.keys, state, self.ttl)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def ack_outbox(self, step_id: str, retry: bool = False) -> None:
        """Its steps were sent: the outbox entry goes, and they are watched (``sent_index.py``) in
        the same round trip."""
        field = f"{step_id}|retry" if retry else step_id
        sent = [(s, max(delay, self._countdowns.pop(s.id, 0.0))) for s, delay in self._unacked.pop(field, [])]
        if self._sent is None or not sent:
            self._r.hdel(self.keys.outbox, field)
            return
        watch = self._sent

        def queue(pipe: Any) -> None:
            pipe.hdel(self.keys.outbox, field)
            watch.queue_watch(pipe, self.run_id, sent)

        self._scripts.pipeline(queue)

    def sent_with_countdown(self, step_id: str, countdown: float) -> None:
        """The dispatcher sent the step with a countdown: its watch waits that much longer."""
        self._countdowns[step_id] = countdown

    def watch(self, steps: list[Step], countdowns: dict[str, float] | None = None) -> None:
        """Watch steps sent outside a transition (a resumed run's frontier; a step given back to the
        broker at a worker's shutdown): one round trip; none for the step ``create`` watched, unless
        it is sent with a countdown (``countdowns``: by step id)."""
        countdowns = countdowns or {}
        watched = [(s, countdowns.get(s.id, 0.0)) for s in steps
                   if s.id != self._created or countdowns.get(s.id, 0.0) > 0]
        if self._sent is not None and watched:
            sent = self._sent
            self._scripts.pipeline(lambda pipe: sent.queue_watch(pipe, self.run_id, watched))

    def retry(self, step: Step, delay: float) -> Step | None:
        raw = self._scripts.retry_step(self.keys.frontier, self.keys.outbox, self.keys.leases, step.id,
                                       step.attempt, time.time() + delay)
        if not raw:
            return None
        self._settled(step.id)
        next_attempt = Step.from_dict(json.loads(raw))
        self._unacked[f"{step.id}|retry"] = [(next_attempt, delay)]
        return next_attempt

    @contextmanager
    def lease(self, step: Step) -> Iterator[None]:
        """Hold the step's lease while it runs (``leases.py``): renewed in the background, gone when
        its transition is applied or it is retried, released here whatever else happens."""
        if self._leases is None:
            yield
            return
        pretaken = self._pretaken.pop(step.id, "held")
        held = pretaken if isinstance(pretaken, Lease) else (
            None if pretaken is None else self._leases.take(self.keys, step.id, self.ttl))
        if held is not None:
            self._held[step.id] = held
        try:
            yield
        finally:
            self._held.pop(step.id, None)
            self._leases.release(held)

    def release_unused(self) -> None:
        """Give back a lease ``begin`` took for a message that was not admitted."""
        while self._pretaken and self._leases is not None:
            _, taken = self._pretaken.popitem()
            if isinstance(taken, Lease):
                self._leases.release(taken)

    def _settled(self, step_id: str) -> None:
        """The script that applied or retried the step also deleted its lease."""
        held = self._held.get(step_id)
        if held is not None:
            held.settled = True

    def hand_off(self, step_id: str, token: str) -> str:
        pipe = self._r.pipeline(transaction=True)
        pipe.hsetnx(self.keys.handoffs, step_id, token)
        pipe.hget(self.keys.handoffs, step_id)
        pipe.expire(self.keys.handoffs, self.ttl)
        return str(pipe.execute()[1].decode())

    def frontier(self, step_ids: list[str] | None = None) -> dict[str, Step]:
        if step_ids is None:
            entries = self._r.hvals(self.keys.frontier)
        elif step_ids:
            entries = [e for e in self._r.hmget(self.keys.frontier, step_ids) if e is not None]
        else:
            entries = []
        steps = [Step.from_dict(json.loads(e)) for e in entries]
        return {s.id: s for s in steps}

    def fail(self, record: dict[str, Any]) -> bool:
        return self._end("failed", record)

    def cancel(self, message: str) -> bool:
        return self._end("cancelled", {"kind": "cancelled", "message": message, "task_id": None})

    def discard(self, message: str) -> bool:
        return self._end("discarded", {"kind": "discarded", "message": message, "task_id": None},
                         only_from="pending")

    def _end(self, status: str, record: dict[str, Any], only_from: str = "running") -> bool:
        return self._scripts.end_run(self.keys.meta, status, json.dumps(storable(record)),
                                     self.keys.done_channel, only_from)

    def executing(self) -> set[str]:
        """Steps holding a lease (``leases.py``): taken when a step is admitted, gone when it ends."""
        return {step_id.decode() for step_id in self._r.hkeys(self.keys.leases)}

    # --- reading -----------------------------------------------------------------------------------

    def status(self) -> RunStatus:
        raw = self._r.hget(self.keys.meta, "status")
        return raw.decode() if raw else "missing"  # type: ignore[return-value]

    def exists(self) -> bool:
        return bool(self._r.exists(self.keys.meta))

    def error(self) -> dict[str, Any] | None:
        raw = self._r.hget(self.keys.meta, "error")
        return json.loads(raw) if raw else None

    def last_result(self) -> bytes | None:
        return self._r.hget(self.keys.meta, "last_result")

    def meta(self) -> dict[str, str]:
        return {k.decode(): v.decode(errors="replace") for k, v in self._r.hgetall(self.keys.meta).items()
                if k != b"last_result"}

    def result(self, node_id: str) -> bytes | None:
        return self._r.hget(self.keys.results, node_id)

    def results(self) -> dict[str, bytes]:
        return {k.decode(): v for k, v in self._r.hgetall(self.keys.results).items()}

    def results_for(self, node_ids: list[str]) -> dict[str, bytes]:
        values = self._r.hmget(self.keys.results, node_ids)
        return {n: v for n, v in zip(node_ids, values, strict=True) if v is not None}

    def branch_outcomes(self, group_step_id: str) -> list[BranchOutcome]:
        g = group_step_id
        count = int(self._r.hget(self.keys.barriers, f"{g}|n") or 0)
        kinds = ("ok", "err", "res", "errstep")
        fields = [f"{g}|{kind}|{i}" for i in range(count) for kind in kinds]
        values = self._r.hmget(self.keys.barriers, fields) if fields else []
        outcomes = []
        for i in range(count):
            ok, err, res, errstep = values[len(kinds) * i: len(kinds) * (i + 1)]
            outcomes.append(BranchOutcome(ok == b"1", err.decode() if err else None, res or None,
                                          Step.from_dict(json.loads(errstep)) if errstep else None))
        return outcomes

    def progress(self) -> tuple[int, int]:
        applied, seq = self._r.hmget(self.keys.meta, ["applied_n", "seq"])
        return int(applied or 0), int(seq or 0)

    def graph_shape(self) -> GraphShape:
        pipe = self._r.pipeline(transaction=False)
        pipe.get(self.keys.graph)
        pipe.hlen(self.keys.dynamic)
        graph_json, added = pipe.execute()
        if graph_json is None:
            return GraphShape(grown=bool(added))
        return GraphShape.of_graph(graph_shape(graph_json), grown=bool(added))

    def wait(self, timeout: float | None) -> bool:
        """Block until the run has finished (pub/sub, no polling); False on timeout. Rides out a
        Redis restart: it reconnects and looks again."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self._wait_once(deadline)
            except (redis.ConnectionError, redis.TimeoutError):
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.5)

    def _finished(self) -> bool:
        status = self.status()
        if status == "missing":
            raise ConfigurationError(f"run {self.run_id} does not exist (unknown id, or its state expired)")
        return status in FINISHED

    def _wait_once(self, deadline: float | None) -> bool:
        if self._finished():
            return True
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.keys.done_channel)
            while True:
                if self._finished():  # checked after subscribing: no missed message
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                pubsub.get_message(timeout=min(left, 5.0) if left is not None else 5.0)
        finally:
            pubsub.close()
