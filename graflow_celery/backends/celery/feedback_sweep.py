"""A safety net for parked steps - a worker killed while it held a deadline's wake-up message, a
process that took an answer but could not send its step - and the pruning of the index of
waiting requests.

A worker holds a countdown message unacknowledged until it is due; killed (SIGKILL), its
messages come back only after the broker's visibility timeout (an hour on Redis). So every
parked request with a deadline is also a member of ``FEEDBACK_DUE``, scored with its deadline
plus one step lease; every worker's deadline sweep (a thread, like the lease sweep) reads the
members past their score and does what the wake-up would have done (``feedback_due.lua``): sends
the step again if the request still waits past its deadline, else drops the member. An answer
to a parked request is a member too, two leases ahead, until the answering process has sent the
step; past that, if the step has not run since, the sweep sends it. A step sent this way is
looked at again two leases later, should that message be lost too, and so is a step that a
delivery holds the lease of (it runs now). Normally the wake-up message came first, or the
answering process sent the step, and the member is gone, so a sweep pass is one Redis read.

Each pass also looks at a hundred members of the index of waiting requests (``FEEDBACK_INDEX``),
going round it pass after pass, and drops those whose request no longer waits: requests of runs
cancelled, ended otherwise or expired while they waited. So the index holds the waiting
requests, and at most what ended since the sweep last came by.
"""

from __future__ import annotations

import logging
import random

from celery import Celery

from graflow_celery.backends.celery.feedback_codec import text
from graflow_celery.backends.celery.feedback_store import prune
from graflow_celery.backends.celery.keys import FEEDBACK_DUE, check_run_id
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.sweep import SweeperStep, SweeperThread
from graflow_celery.errors import InvalidRunIdError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.feedback")

BATCH = 100
_WHY_SENT = {"due": "is past its deadline and its wake-up did not come (its worker died?)",
             "answered": "was answered but its step was not sent again (whoever answered failed or died)"}


class DeadlineSweeper(SweeperThread):
    thread_name = "graflow-feedback-sweep"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.seconds = runtime.settings.step_lease
        self._prune_at = 0  # where in the index of waiting requests the next pass looks
        super().__init__()

    def sweep(self) -> list[tuple[str, str]]:
        """One pass; returns the (run id, request key) whose step it sent again."""
        runtime = self._runtime
        now_ms, due = runtime.scripts.lease_due(FEEDBACK_DUE, BATCH)  # members scored <= now
        sent = []
        for member in due:
            run_id, _, key = text(member).partition("|")
            try:
                check_run_id(run_id)
            except InvalidRunIdError:
                runtime.client.zrem(FEEDBACK_DUE, member)
                continue
            verdict, step = runtime.feedback(run_id).due(key)  # gone, settled, ended, waits: dropped there
            lease_ms = int(self.seconds * 1000)
            if verdict == "early":  # an answer that did not get through, or clocks moved: at the deadline
                runtime.client.zadd(FEEDBACK_DUE, {member: now_ms + int(step * 1000) + lease_ms}, xx=True)
                continue
            if verdict not in ("due", "answered", "busy"):
                continue
            runtime.client.zadd(FEEDBACK_DUE, {member: now_ms + 2 * lease_ms}, xx=True)
            context = runtime.context_for(run_id)
            if step is None or context is None:
                continue
            logger.warning("run %s: feedback %s:%s %s; sending step %s again", run_id, run_id, key,
                           _WHY_SENT[verdict], step.id)
            context.dispatcher.send(context, [step])
            sent.append((run_id, key))
        self._prune_at = prune(runtime.client, self._prune_at, BATCH)
        return sent

    def _sweep_forever(self) -> None:
        interval = self.seconds / 3
        wait = random.uniform(0, interval)
        while not self._stop.wait(wait):
            wait = interval * random.uniform(0.9, 1.1)
            try:
                self.sweep()
            except Exception as exc:  # Redis away for a while, a run that cannot load: next pass
                logger.warning("the feedback deadline sweep failed: %s", describe(exc))


class DeadlineSweep(SweeperStep):
    """Worker bootstep (``graflow_celery.install`` adds it): this worker's deadline sweeper."""

    label = "graflow feedback deadline sweep"

    def make(self, runtime: Runtime) -> DeadlineSweeper:
        return DeadlineSweeper(runtime)


def add_deadline_sweep(app: Celery) -> None:
    app.steps["worker"].add(DeadlineSweep)
