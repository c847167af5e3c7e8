"""The sweep: live workers notice the steps of dead ones and send them again. No master.

Every worker of an app set up with ``graflow_celery.install(app)`` runs one sweeper thread (a
worker bootstep). Every third of ``graflow_step_lease`` it reads the ``LEASE_INDEX`` members whose
lease has expired by Redis time and claims each with ``lease_claim.lua`` on the run's own keys.
Only a step still on the frontier of a running run, whose lease has expired, can be claimed, and
only once: exactly one live worker re-sends it - the same message id, through the run's
dispatcher, on the step's queue. The members of steps applied since, of runs that ended or
expired, of leases renewed or taken over, just leave the index.

The same pass looks at the step messages sent and never started within ``graflow_send_grace``
(``sent_sweep.py``): a message the broker lost before any worker took it.

A worker killed in the middle of a step is therefore noticed within ``step_lease + step_lease / 3``
seconds of its last renewal, whatever the broker's visibility timeout. The message the broker
gives back later is a duplicate the frontier drops, or a second run of the step (user functions
run at least once; the transition is applied once).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable
from typing import Any, Self

import redis
from celery import Celery, bootsteps

from graflow_celery.backends.celery.dispatcher import message_id
from graflow_celery.backends.celery.keys import LEASE_INDEX, RunKeys
from graflow_celery.backends.celery.leases import index_member, owner_name, parse_member
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.sent_sweep import SentSweep
from graflow_celery.backends.celery.worker import RETRYABLE
from graflow_celery.core.steps import Step
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.sweep")

LONGEST_CLAIM = 3600.0  # seconds: claims of a step whose re-sent message waits in a queue back off
BATCH = 200  # index members one pass looks at; a full batch is followed by another pass at once

_UNAVAILABLE: tuple[type[BaseException], ...] = (redis.RedisError, *RETRYABLE)  # Redis or the broker

# Sends a claimed step again; False if its run cannot be found any more.
Resend = Callable[[str, Step], bool]


class SweeperThread:
    """One daemon thread running ``_sweep_forever`` until ``stop()``: the shape every sweeper shares
    (the lease sweep, the feedback deadline sweep, Django's outbox sweep)."""

    thread_name = "graflow-sweep"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._sweep_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _sweep_forever(self) -> None:
        raise NotImplementedError


class Sweeper(SweeperThread):
    thread_name = "graflow-lease-sweep"

    def __init__(self, client: Any, scripts: Scripts, seconds: float, resend: Resend,
                 batch: int = BATCH, sent: SentSweep | None = None) -> None:
        self._r = client
        self._scripts = scripts
        self.seconds = seconds
        self.lease_ms = int(seconds * 1000)
        self._resend = resend
        self._batch = batch
        self._sent = sent  # step messages sent and never started (``sent_sweep.py``); None: not watched
        self._owner = owner_name()
        super().__init__()

    def sweep(self) -> list[tuple[str, str]]:
        """One pass over the expired members of the lease index, then of the sent index; returns the
        (run id, step id) it sent again."""
        sent = self._sweep_leases()
        if self._sent is not None:
            sent += self._sent.sweep(self._resend)
        return sent

    def _sweep_leases(self) -> list[tuple[str, str]]:
        sent: list[tuple[str, str]] = []
        while True:
            now_ms, due = self._scripts.lease_due(LEASE_INDEX, self._batch)
            for member in due:
                try:
                    found = self._sweep_member(member, now_ms)
                except _UNAVAILABLE:  # the whole pass waits for the next one
                    raise
                except Exception as exc:  # e.g. a run this worker cannot load: its claim expires, and
                    # another pass (here or in another worker) tries again; the others go on now
                    logger.error("the lease sweep could not send %r again: %s", member, describe(exc))
                    continue
                if found is not None:
                    sent.append(found)
            if len(due) < self._batch:
                return sent

    def _sweep_member(self, member: bytes, now_ms: int) -> tuple[str, str] | None:
        parsed = parse_member(member)
        if parsed is None:  # not written by us: it can only be in the way
            self._r.zrem(LEASE_INDEX, member)
            return None
        run_id, step_id, member_token = parsed
        keys = RunKeys(run_id)
        token = secrets.token_hex(8)
        claim_member = index_member(run_id, step_id, token)

        def queue(pipe: Any) -> None:
            # Indexed before it exists, so that a claim is never left out of the index: if this
            # process dies right after claiming, another sweep finds the claim when it expires.
            pipe.zadd(LEASE_INDEX, {claim_member: now_ms + self.lease_ms})
            self._scripts.lease_claim([keys.meta, keys.frontier, keys.leases], step_id, member_token,
                                      self._owner, token, self.lease_ms, int(LONGEST_CLAIM * 1000), pipe)

        answer = [_text(x) for x in self._scripts.pipeline(queue)[1]]
        pipe = self._r.pipeline(transaction=False)
        if answer[0] == "claimed":
            pipe.zrem(LEASE_INDEX, member)
            pipe.zadd(LEASE_INDEX, {claim_member: int(answer[2])}, xx=True)
            pipe.execute()
            step = Step.from_dict(json.loads(answer[1]))
            logger.warning("run %s: the lease of step %s (%s) held by %s expired without being renewed (its "
                           "worker died or stalled); sending it again as message %s", run_id, step.id,
                           step.node, answer[3], message_id(run_id, step.id))
            return (run_id, step.id) if self._resend(run_id, step) else None
        pipe.zrem(LEASE_INDEX, claim_member)
        if answer[0] == "live" and answer[2] == "1":  # renewed since: keep looking, later
            pipe.zadd(LEASE_INDEX, {member: int(answer[1])}, xx=True, gt=True)
        else:  # gone, or a lease somebody else holds now and indexes under its own member
            pipe.zrem(LEASE_INDEX, member)
        pipe.execute()
        return None

    # --- the thread ---------------------------------------------------------------------------------

    def _sweep_forever(self) -> None:
        interval = self.seconds / 3
        wait = random.uniform(0, interval)  # workers started together do not sweep in step
        while not self._stop.wait(wait):
            wait = interval * random.uniform(0.9, 1.1)
            try:
                self.sweep()
            except _UNAVAILABLE as exc:  # Redis or the broker away for a while
                logger.warning("the lease sweep could not reach Redis or the broker: %s", describe(exc))
            except Exception as exc:  # the sweep must go on: the next pass tries again
                logger.error("the lease sweep failed: %s", describe(exc))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def resend_through(runtime: Runtime) -> Resend:
    """Send a claimed step as its run's dispatcher would have: same message id, the step's queue."""

    def resend(run_id: str, step: Step) -> bool:
        context = runtime.context_for(run_id)
        if context is None:
            return False
        context.dispatcher.send(context, [step])
        return True

    return resend


class SweeperStep(bootsteps.StartStopStep):
    """A worker bootstep that runs one sweeper thread while the worker's pool is up: ``make``
    builds it (an object with ``start()`` returning itself, and ``stop()``)."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.sweeper: Any = None

    def make(self, runtime: Runtime) -> Any:
        raise NotImplementedError

    def start(self, parent: Any) -> None:
        self.sweeper = self.make(Runtime.for_app(parent.app)).start()

    def stop(self, parent: Any) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
            self.sweeper = None

    def terminate(self, parent: Any) -> None:
        self.stop(parent)


class LeaseSweep(SweeperStep):
    """Worker bootstep (``graflow_celery.install`` adds it): this worker's sweeper thread."""

    label = "graflow lease sweep"

    def make(self, runtime: Runtime) -> Sweeper:
        settings = runtime.settings
        sent = None if runtime.sent is None else SentSweep(runtime.client, runtime.scripts, runtime.sent,
                                                           settings.state_ttl, BATCH)
        return Sweeper(runtime.client, runtime.scripts, settings.step_lease, resend_through(runtime),
                       sent=sent)


def add_sweep(app: Celery) -> None:
    """Every worker of ``app`` runs the sweep (adding it twice changes nothing)."""
    app.steps["worker"].add(LeaseSweep)
