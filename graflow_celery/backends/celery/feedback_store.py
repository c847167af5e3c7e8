"""Requests for feedback in Redis: a run's own (its ``feedback`` hash, changed only by the
``lua/feedback_*.lua`` scripts, read with the rest of its state by a checkpoint), and the index of
every waiting request of this Redis (``FEEDBACK_INDEX``), newest first, for the people answering.

On Celery a waiting request parks its step (the worker is free at once); an answer sends the
step again. An in-process run can keep its requests here too (``MemoryBackend(feedback_backend=
"redis")``): its task then blocks, woken by the pub/sub message of the answer.

The index is a hint, as the lease index is: it lives in another Redis Cluster slot, so it is
written next to the scripts, not inside them. A member leaves it when its request is answered
or times out; members of runs that ended or expired are dropped by whoever lists them.

So is ``FEEDBACK_DUE``, the workers' safety net for parked steps (``feedback_sweep.py``): a
parked request with a deadline is in it until its step runs again; an answer puts its request in
it *before* it is taken, two step leases ahead, and the answering process takes it out once it
has sent the step. Should that process fail to send the step or die, a worker's sweep finds the
request answered, its step not run since (``resend`` in its state), and sends the step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import redis

from graflow_celery.backends.celery.feedback_codec import records_of, text, write_records
from graflow_celery.backends.celery.keys import FEEDBACK_DUE, FEEDBACK_INDEX, RunKeys
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import DEFAULT_TTL
from graflow_celery.core.feedback import FeedbackRequest
from graflow_celery.core.feedback_record import WAITING, FeedbackRecord
from graflow_celery.core.feedback_store import AnswerOutcome, Asked, StepParked
from graflow_celery.core.steps import Step
from graflow_celery.errors import ConfigurationError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.feedback")

LOOK_AGAIN = 0.5  # seconds: how often a blocked request looks whether its task should stop
LIST_BATCH = 200  # index members read per round trip when listing


class RedisFeedback:
    def __init__(self, client: Any, scripts: Scripts, run_id: str, ttl: int | None, *, parks: bool = True,
                 in_run_state: bool = True, grace: float = 30.0) -> None:
        self.run_id = run_id
        self.keys = RunKeys(run_id)
        self._r = client
        self._scripts = scripts
        self.ttl = ttl  # None: answering keeps the lifetime the requests have (a reader of another run)
        self.parks = parks
        self.in_run_state = in_run_state  # a Celery run: a checkpoint reads them with its state
        self.grace_ms = int(grace * 1000)  # past a deadline, how long the sweep leaves it to the message

    @property
    def _lifetime(self) -> int:
        return self.ttl if self.ttl is not None else DEFAULT_TTL

    def _member(self, key: str) -> str:
        return f"{self.run_id}|{key}"

    # --- the FeedbackStore seam --------------------------------------------------------------------------

    def ask(self, step: Step, key: str, record: FeedbackRecord) -> Asked:
        timeout_ms = None if record.timeout is None else int(record.timeout * 1000)
        request, state, answer, now, made, first_read = self._scripts.feedback_ask(
            self.keys.feedback_keys(), key, json.dumps(record.request_part()), step.id, timeout_ms,
            self.parks, self._lifetime)
        found = FeedbackRecord.from_parts(request, state, answer)
        if found.status == WAITING:  # listed (again: a member lost since comes back)
            pipe = self._r.pipeline(transaction=False)
            pipe.zadd(FEEDBACK_INDEX, {self._member(key): found.created}, nx=True)
            if found.parks and found.deadline is not None:
                pipe.zadd(FEEDBACK_DUE, {self._member(key): found.deadline + self.grace_ms}, nx=True)
            pipe.execute()
        elif found.settled == int(now):  # timed out just now
            self.unlist(key)
        return Asked(found, int(now), made == 1, first_read == 1)

    def unlist(self, key: str) -> None:
        """The request waits no more and its step needs no watching: out of the indexes."""
        pipe = self._r.pipeline(transaction=False)
        pipe.zrem(FEEDBACK_INDEX, self._member(key))
        pipe.zrem(FEEDBACK_DUE, self._member(key))
        pipe.execute()

    def _watch(self, member: str, from_ms: int, pipe: Any = None, *, lt: bool = False) -> None:
        """Have a worker's sweep look at the request two step leases from ``from_ms`` (``lt``: or
        sooner, if it is to look sooner already)."""
        (pipe or self._r).zadd(FEEDBACK_DUE, {member: from_ms + 2 * self.grace_ms}, lt=lt)

    def wait(self, key: str, stopping: Callable[[], bool]) -> Asked:
        """Block until answered (the answer's pub/sub message wakes it) or timed out."""
        made = self.record(key)
        if made is None:
            raise ConfigurationError(f"feedback request {key} of run {self.run_id} is gone from Redis")
        step = Step(made.step, made.task)
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.keys.feedback_channel)
            while True:
                asked = self.ask(step, key, made)  # times it out once past its deadline
                found = asked.record
                if found.status != WAITING:
                    return asked
                left = None if found.deadline is None else (found.deadline - asked.now) / 1000
                if stopping():
                    raise StepParked(key, left)
                pubsub.get_message(timeout=LOOK_AGAIN if left is None else max(min(left, LOOK_AGAIN), 0.001))
        finally:
            pubsub.close()

    def answer(self, key: str, answer: dict[str, Any]) -> AnswerOutcome:
        member = self._member(key)
        if self.parks:  # watched before it is taken: this process may die right after
            self._watch(member, _redis_ms(self._r), lt=True)
        raw = self._scripts.feedback_answer(self.keys.feedback_keys(), key, json.dumps(answer), self.ttl,
                                            self.keys.feedback_channel)
        verdict = text(raw[0])
        if verdict == "unknown":
            return AnswerOutcome(None, "unknown")
        _, request, state, given, parked = raw
        found = FeedbackRecord.from_parts(request, state, given)
        if verdict != "ok":
            if verdict != "timed_out":  # answered or ended: not waiting any more (the sweep sees to the rest)
                self._r.zrem(FEEDBACK_INDEX, member)
            return AnswerOutcome(found, verdict)
        if not parked:
            self.unlist(key)
            return AnswerOutcome(found)
        pipe = self._r.pipeline(transaction=False)
        pipe.zrem(FEEDBACK_INDEX, member)
        self._watch(member, found.settled or 0, pipe)
        pipe.execute()
        step = Step.from_dict(json.loads(parked))
        return AnswerOutcome(found, resend=step, sent=partial(self._sent, member))

    def _sent(self, member: str) -> None:
        """The answering process sent the parked step: no need to watch it any more (if this fails,
        the sweep drops the member once it finds the step ran)."""
        try:
            self._r.zrem(FEEDBACK_DUE, member)
        except redis.RedisError as exc:
            logger.warning("could not drop %s from the feedback deadline index (%s); a sweep drops it",
                           member, describe(exc))

    def record(self, key: str) -> FeedbackRecord | None:
        request, state, answer = self._r.hmget(self.keys.feedback, [key, f"{key}|s", f"{key}|a"])
        if request is None or state is None:
            return None
        return FeedbackRecord.from_parts(request, state, answer)

    def records(self) -> dict[str, FeedbackRecord]:
        return records_of(self._r.hgetall(self.keys.feedback))

    def load(self, records: dict[str, FeedbackRecord]) -> None:
        """Write a checkpoint's records for this run (an in-process run keeping them in Redis)."""
        pipe = self._r.pipeline(transaction=True)
        write_records(pipe, self.keys, records, self._lifetime)
        pipe.execute()

    def waiting_steps(self) -> set[str]:
        return {text(step) for step in self._r.hkeys(self.keys.feedback_waiting)}

    # --- the deadline wake-up (``feedback.py``) --------------------------------------------------------

    def due(self, key: str) -> tuple[str, Any]:
        """What ``feedback_due.lua`` says: ("early", seconds left), ("due", the step to send again
        past the deadline, or None), ("answered", the answered step to send again), ("busy",
        None): its step runs now; or ("waits", None) - then its deadline index member goes -, or
        (gone/settled/ended, None) - then both its index members go."""
        raw = self._scripts.feedback_due(self.keys.feedback_keys(), key)
        verdict = text(raw[0])
        if verdict == "early":
            return verdict, int(raw[1]) / 1000
        if verdict in ("due", "answered"):
            return verdict, Step.from_dict(json.loads(raw[1])) if raw[1] else None
        if verdict == "busy":
            return verdict, None
        if verdict == "waits":  # no deadline and no answer yet: nothing to watch
            self._r.zrem(FEEDBACK_DUE, self._member(key))
        else:
            self.unlist(key)
        return verdict, None


# --- every waiting request of this Redis ----------------------------------------------------------------


def pending_in(client: Any, limit: int = 100) -> list[FeedbackRequest]:
    """Waiting requests of every run in this Redis, newest first (at most ``limit``); requests past
    their deadline are left out (no answer is taken any more), and index members whose request
    no longer waits are dropped on the way."""
    found: list[FeedbackRequest] = []
    seen: set[bytes] = set()  # requests made while listing push the others down: read them once
    start = 0
    while len(found) < limit:
        page = client.zrevrange(FEEDBACK_INDEX, start, start + LIST_BATCH - 1)
        if not page:
            break
        start += len(page)
        members = [m for m in page if m not in seen]
        seen.update(members)
        live, stale = _look_up(client, members)
        found.extend(live[:limit - len(found)])
        start -= len(stale)
    return found


def prune(client: Any, start: int, count: int = LIST_BATCH) -> int:
    """Drop the index members among ``count`` from position ``start`` (oldest first) whose request
    no longer waits - runs cancelled or ended otherwise, or expired, while their requests waited.
    Returns where the next call should start (0 after the last member)."""
    members = client.zrange(FEEDBACK_INDEX, start, start + count - 1)
    _, stale = _look_up(client, members)
    return 0 if len(members) < count else start + len(members) - len(stale)


def _look_up(client: Any, members: list[bytes]) -> tuple[list[FeedbackRequest], list[bytes]]:
    """The index members' requests still waiting (and before their deadline), and the members that
    no longer wait - removed from the index here."""
    now_ms = _redis_ms(client)
    pipe = client.pipeline(transaction=False)
    parsed: list[tuple[str, str] | None] = []
    for member in members:
        run_id, _, key = text(member).partition("|")
        try:
            keys = RunKeys(run_id)
        except ConfigurationError:
            parsed.append(None)
            continue
        parsed.append((run_id, key))
        pipe.hmget(keys.feedback, [key, f"{key}|s", f"{key}|a"])
        pipe.hget(keys.meta, "status")
    answers = iter(pipe.execute())
    live: list[FeedbackRequest] = []
    stale: list[bytes] = []
    for member, entry in zip(members, parsed, strict=True):
        if entry is None:
            stale.append(member)
            continue
        (request, state, answer), status = next(answers), next(answers)
        running = request is not None and state is not None and (status is None or text(status) == "running")
        record = FeedbackRecord.from_parts(request, state, answer) if running else None
        if record is None or record.status != WAITING:
            stale.append(member)
        elif not record.late(now_ms):
            live.append(record.to_request(*entry))
    if stale:
        client.zrem(FEEDBACK_INDEX, *stale)
    return live, stale


def _redis_ms(client: Any) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


# --- in-process runs keeping their requests in Redis (graflow's "redis" feedback backend) -------------


def redis_feedback(run_id: str, config: dict[str, Any]) -> RedisFeedback:
    """``feedback_config``: "redis_client" (a ``redis.Redis``), or "url", or "host", "port", "db";
    "expiration_days" (7): how long a request is kept after its last change."""
    client = config.get("redis_client")  # decode_responses or not: both work
    if client is None:
        url = config.get("url")
        client = redis.Redis.from_url(url) if url else redis.Redis(
            host=config.get("host", "localhost"), port=int(config.get("port", 6379)),
            db=int(config.get("db", 0)))
    days = config.get("expiration_days", 7)
    if isinstance(days, bool) or not isinstance(days, int | float) or days <= 0:
        raise ConfigurationError(f"feedback_config expiration_days must be a number > 0, got {days!r}")
    return RedisFeedback(client, Scripts(client), run_id, int(days * 86400), parks=False, in_run_state=False)
