"""Step leases: a step being executed holds a lease in its run's state, renewed while its body runs.

A worker that dies (SIGKILL, lost machine) stops renewing; its lease expires within
``graflow_step_lease`` seconds, and the sweep that runs in every worker (``sweep.py``) claims the
step and sends it again - whatever the broker's visibility timeout. Expiry is Redis time (``TIME``
inside the scripts), never a worker's clock.

Where a lease lives:

- in the run's ``leases`` hash (``RunKeys.leases``), next to the step's frontier entry: the truth.
  Taken when admission lets a step run (``lease_take.lua``), renewed by this module's renewer,
  deleted when the step's transition is applied (``apply_transition.lua``), when it is retried
  (``retry_step.lua``) or when the step ends here any other way (``lease_release.lua``);
- in the global ``LEASE_INDEX``, one member per lease taken, scored with its expiry: only where
  the sweep looks. It lives in another Redis Cluster slot, so it is updated with separate commands
  next to the scripts, never inside them, and may hold stale members: the sweep drops them.

For a step message the take rides in ``begin``'s round trip (the store's ``lease_at_begin``: taken
only if no other delivery holds it, given back if the message is not admitted); otherwise it is
one round trip of its own (the take script and the index ``ZADD``, pipelined). The index member
of an applied step is removed in batches by the renewer thread, off the step's path.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis

from graflow_celery.backends.celery.keys import LEASE_INDEX, RunKeys, check_run_id
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.errors import InvalidRunIdError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.leases")

DEFAULT_STEP_LEASE = 30.0  # seconds
_INDEX_TOLERANCE_MS = 500  # an index score this far from the lease's real expiry is corrected at once


def owner_name() -> str:
    """Who holds a lease: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def index_member(run_id: str, step_id: str, token: str) -> str:
    return f"{run_id}|{step_id}|{token}"


def parse_member(member: bytes | str) -> tuple[str, str, str] | None:
    """(run id, step id, token) of an index member, or None if it cannot be one of ours."""
    text = member.decode(errors="replace") if isinstance(member, bytes) else member
    parts = text.split("|")
    if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit() or not parts[2]:
        return None
    try:
        check_run_id(parts[0])
    except InvalidRunIdError:
        return None
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class PendingTake:
    """A lease take queued on a pipeline whose answer is not back yet."""

    keys: RunKeys
    step_id: str
    ttl: int
    token: str
    member: str
    sent_ms: int
    guess: int  # the expiry this process expects, in Redis time: the index member's score
    free_only: bool


@dataclass
class Lease:
    keys: RunKeys
    step_id: str
    token: str
    expires: int  # ms, Redis time, as of the last take or renewal
    settled: bool = False  # the step's transition was applied or retried: the scripts deleted the lease
    lost: bool = False  # a renewal found another token holding it, or none

    @property
    def member(self) -> str:
        return index_member(self.keys.run_id, self.step_id, self.token)


class LeaseKeeper:
    """Takes, renews and releases the leases of the steps this process runs.

    One per app and process: a worker's pool processes are forked from the main process, so a
    keeper notices it has moved to a new process and starts afresh there. Its renewer thread starts
    with the first lease and renews every held lease each ``seconds / 3``.
    """

    def __init__(self, client: Any, scripts: Scripts, seconds: float) -> None:
        self._r = client
        self._scripts = scripts
        self.seconds = seconds
        self.lease_ms = int(seconds * 1000)
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._owner = owner_name()
        self._lock = threading.Lock()
        self._held: dict[str, Lease] = {}  # by token
        self._unindex: list[str] = []  # index members of settled leases, removed by the renewer
        self._offset_ms = 0  # Redis time minus this process's clock, learnt from each take
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        if os.getpid() != self._pid:  # a forked pool process: no renewer thread (nor lock) came along
            self._reset()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._renew_forever, name="graflow-lease-renewer",
                                                daemon=True)
                self._thread.start()

    # --- around one step ----------------------------------------------------------------------------

    def take(self, keys: RunKeys, step_id: str, ttl: int) -> Lease | None:
        """Hold the step's lease (taking it over from another delivery); None if the step left the
        frontier of a running run meanwhile. The index member goes out in the same round trip,
        scored with this process's estimate of the expiry in Redis time; the script's answer
        corrects the estimate when it is off."""
        pending = self.prepare(keys, step_id, ttl)
        found = self.finish(pending, self._scripts.pipeline(lambda pipe: self.queue_take(pipe, pending))[0])
        return found if isinstance(found, Lease) else None

    def prepare(self, keys: RunKeys, step_id: str, ttl: int, free_only: bool = False) -> PendingTake:
        self._start()
        token = secrets.token_hex(8)
        sent_ms = _now_ms()
        return PendingTake(keys, step_id, ttl, token, index_member(keys.run_id, step_id, token), sent_ms,
                           sent_ms + self._offset_ms + self.lease_ms, free_only)

    def queue_take(self, pipe: Any, take: PendingTake) -> None:
        """Put the take on ``pipe`` (two commands: the script, then the index member)."""
        keys = take.keys
        self._scripts.lease_take([keys.meta, keys.frontier, keys.leases], take.step_id, self._owner,
                                 take.token, self.lease_ms, take.ttl, pipe, free_only=take.free_only)
        pipe.zadd(LEASE_INDEX, {take.member: take.guess})

    def finish(self, take: PendingTake, answer: Any) -> Lease | Literal["held"] | None:
        """The lease from the take script's answer; "held": ``free_only`` and another holds it."""
        expires = int(answer)
        if expires <= 0:
            self._forget(take.member)
            return "held" if expires < 0 else None
        self._offset_ms = expires - self.lease_ms - take.sent_ms
        if abs(expires - take.guess) > _INDEX_TOLERANCE_MS:
            self._r.zadd(LEASE_INDEX, {take.member: expires})
        lease = Lease(take.keys, take.step_id, take.token, expires)
        with self._lock:
            self._held[take.token] = lease
        return lease

    def release(self, lease: Lease | None) -> None:
        """The step is over here, whatever happened. A settled lease is gone already; its index
        member leaves with the renewer's next batch. Otherwise the lease is deleted now (if this
        delivery still holds it) - best effort: should Redis refuse, the lease simply expires and
        the sweep sends the step again, which is what a dead worker would cause too."""
        if lease is None:
            return
        with self._lock:
            self._held.pop(lease.token, None)
            if lease.settled:
                self._unindex.append(lease.member)
                return
        if lease.lost:
            logger.warning("run %s: step %s was no longer leased by this worker when it finished (another "
                           "delivery took it over, or this process stalled past its lease and the step was "
                           "sent again): it may have run twice; its transition is applied once",
                           lease.keys.run_id, lease.step_id)

        def queue(pipe: Any) -> None:
            self._scripts.lease_release(lease.keys.leases, lease.step_id, lease.token, pipe)
            pipe.zrem(LEASE_INDEX, lease.member)

        try:
            self._scripts.pipeline(queue)
        except redis.RedisError as exc:
            logger.warning("run %s: could not release the lease of step %s (%s); it expires in %.0fs",
                           lease.keys.run_id, lease.step_id, describe(exc), self.seconds)

    def _forget(self, member: str) -> None:
        with self._lock:
            self._unindex.append(member)

    # --- the renewer thread ---------------------------------------------------------------------------

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self.seconds / 3)
            try:
                self.renew()
            except redis.RedisError as exc:  # Redis away for a while: the next round tries again
                logger.warning("could not renew step leases: %s", describe(exc))
            except Exception as exc:  # never let the renewer die: every held lease would expire
                logger.error("the step lease renewer failed (%s); it goes on", describe(exc))

    def renew(self) -> None:
        """Renew every lease this process holds, and drop the index members of settled ones."""
        with self._lock:
            held = list(self._held.values())
            unindex, self._unindex = self._unindex, []

        def queue(pipe: Any) -> None:
            for lease in held:
                self._scripts.lease_renew(lease.keys.leases, lease.step_id, lease.token, self.lease_ms, pipe)
            if unindex:
                pipe.zrem(LEASE_INDEX, *unindex)

        if not held and not unindex:
            return
        try:
            answers = self._scripts.pipeline(queue)
        except redis.RedisError:
            with self._lock:
                self._unindex.extend(unindex)
            raise
        renewed: dict[str, int] = {}
        lost: list[str] = []
        with self._lock:
            for lease, expires in zip(held, answers, strict=False):
                if lease.token not in self._held:  # released meanwhile
                    continue
                if int(expires):
                    lease.expires = int(expires)
                    renewed[lease.member] = lease.expires
                else:  # applied (here or by a duplicate), taken over, or claimed after a stall
                    del self._held[lease.token]
                    lease.lost = True  # release() says so, once it knows whether the step was applied
                    lost.append(lease.member)
        if renewed or lost:
            pipe = self._r.pipeline(transaction=False)
            if renewed:
                pipe.zadd(LEASE_INDEX, renewed)
            if lost:
                pipe.zrem(LEASE_INDEX, *lost)
            pipe.execute()

    def held(self) -> list[Lease]:
        with self._lock:
            return list(self._held.values())


def _now_ms() -> int:
    return int(time.time() * 1000)
