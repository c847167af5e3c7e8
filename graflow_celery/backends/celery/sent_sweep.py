"""The sent sweep: live workers send again the step messages that did not start within the grace.

Part of every worker's sweep pass (``sweep.py``): it reads a batch of ``SENT_INDEX`` members past
their score (``sent_index.py``) and claims them all with ``sent_claim.lua`` in one round trip, each
on its run's own keys. Only a step still on the frontier of a running run, at the member's attempt,
not leased, not parked, not handed off, can be claimed, and once per expiry: exactly one live
worker sends it again - the same message id, through the run's dispatcher. Its member is pushed
back twice as far each time (grace, 2x, 4x, ... up to ``LONGEST_WAIT``), so that a step waiting
behind a long queue gets a few duplicates, not one per pass; the others leave the index.

A duplicate is harmless: a worker runs a message only if its step is on the frontier at that
attempt, and the transition is applied once (``apply_transition.lua``: set-if-absent on the
run's applied set); a duplicate that arrives while the step runs takes its lease over and runs
the user function again (at least once), and one that arrives after is dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis

from graflow_celery.backends.celery.dispatcher import message_id
from graflow_celery.backends.celery.keys import SENT_INDEX, RunKeys
from graflow_celery.backends.celery.leases import parse_member
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.sent_index import SentIndex
from graflow_celery.backends.celery.worker import RETRYABLE
from graflow_celery.core.steps import Step
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.sweep")

LONGEST_WAIT = 3600.0  # seconds: the longest a step waiting in a queue goes without another message

Resend = Callable[[str, Step], bool]
_UNAVAILABLE: tuple[type[BaseException], ...] = (redis.RedisError, *RETRYABLE)  # Redis or the broker


class SentSweep:
    def __init__(self, client: Any, scripts: Scripts, index: SentIndex, ttl: int, batch: int) -> None:
        self._r = client
        self._scripts = scripts
        self._index = index
        self._ttl = ttl
        self._batch = batch

    def sweep(self, resend: Resend) -> list[tuple[str, str]]:
        """One pass; returns the (run id, step id) sent again."""
        sent: list[tuple[str, str]] = []
        while True:
            _, due = self._scripts.lease_due(SENT_INDEX, self._batch)
            sent += self._claim_all(due, resend)
            if len(due) < self._batch:
                return sent

    def _claim_all(self, due: list[bytes], resend: Resend) -> list[tuple[str, str]]:
        members = [(member, parse_member(member)) for member in due]
        claimable = [(member, parsed) for member, parsed in members
                     if parsed is not None and parsed[2].isdigit()]
        grace_ms, longest_ms = self._index.grace_ms, int(max(LONGEST_WAIT, self._index.grace) * 1000)

        def queue(pipe: Any) -> None:
            for _, (run_id, step_id, attempt) in claimable:
                self._scripts.sent_claim(RunKeys(run_id).sent_claim_keys(), step_id, int(attempt), grace_ms,
                                         longest_ms, self._ttl, pipe)

        answers = self._scripts.pipeline(queue) if claimable else []
        drop = [member for member, parsed in members if parsed is None or not parsed[2].isdigit()]
        later: dict[bytes, int] = {}
        claimed: list[tuple[str, Step, int]] = []
        for (member, (run_id, _, _)), answer in zip(claimable, answers, strict=True):
            verdict = _text(answer[0])
            if verdict == "gone":
                drop.append(member)
            else:
                later[member] = int(answer[1] if verdict == "early" else answer[2])
                if verdict == "claimed":
                    claimed.append((run_id, Step.from_dict(json.loads(answer[1])), int(answer[3])))
        pipe = self._r.pipeline(transaction=False)
        if drop:
            pipe.zrem(SENT_INDEX, *drop)
        if later:
            pipe.zadd(SENT_INDEX, later, xx=True)  # a member its step's start removed meanwhile stays out
        pipe.execute()
        sent = []
        for run_id, step, times in claimed:
            logger.warning("run %s: step %s (%s) was sent and has not started within %.0fs (the message was "
                           "lost, or waits behind a busy queue); sending it again as message %s (time %d)",
                           run_id, step.id, step.node, self._index.grace, message_id(run_id, step.id), times)
            try:
                if resend(run_id, step):
                    sent.append((run_id, step.id))
            except _UNAVAILABLE:  # the whole pass waits for the next one
                raise
            except Exception as exc:  # e.g. a run this worker cannot load: claimed again at its next due
                logger.error("the sent sweep could not send step %s of run %s again: %s", step.id, run_id,
                             describe(exc))
        return sent


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
