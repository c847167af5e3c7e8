"""``submit_on_commit``: a run that starts when the transaction that asked for it commits.

Submitting inside ``transaction.atomic`` races the commit: the first task may look for a row the
transaction has not committed yet. So the run is stored at once - its id known, reading
"pending" - and started by ``transaction.on_commit``. Django has no hook for a rollback: it drops
the callbacks of a transaction (or savepoint) that rolls back, unrun. So the callback carries a
finalizer: dropped without being called, it discards the run, which then reads "discarded".

A process can also die between the COMMIT and the callback. So the transaction records the run
in the outbox table too (``outbox.py``); the callback deletes that row once the run has started,
and a row left behind - committed, and its run not started - is started by a worker's sweep.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from celery import Celery
from django.db import DatabaseError, transaction

from graflow_celery.backends.celery.eager import eager
from graflow_celery.backends.celery.run import PreparedRun, WorkflowRun, prepare, submit
from graflow_celery.contrib.django.outbox import forget, record
from graflow_celery.contrib.django.project import celery_app
from graflow_celery.core.workflow import WorkflowContext
from graflow_celery.errors import RunAlreadyStartedError
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.django")

ROLLED_BACK = "the transaction that submitted it rolled back"


def submit_on_commit(workflow: WorkflowContext | str, inputs: dict[str, Any] | None = None, *,
                     using: str | None = None, app: Celery | None = None, **options: Any) -> WorkflowRun:
    """Submit ``workflow`` when the current transaction (of database ``using``) commits, and
    return its handle now. Until the commit the run reads "pending"; if the transaction rolls
    back it reads "discarded" and never starts. Outside a transaction it is submitted at once.
    ``options``: those of ``submit`` (``queue``, ``run_id``, ``start_node``, ...); ``app``: the
    project's Celery app unless given."""
    app = app or celery_app()
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        return submit(workflow, inputs, app=app, **options)
    prepared = prepare(workflow, inputs, app=app, **options)
    # An eager app's run lives in this process: no other could start it, no row is kept.
    outbox = None if eager(app) else connection.alias
    # The callback first: should the row not be written, the transaction rolls back and drops it.
    transaction.on_commit(StartOnCommit(prepared, outbox), using=using)
    if outbox is not None:
        record(prepared.handle.id, app, outbox)
    return prepared.handle


class StartOnCommit:
    """The on-commit callback: starts the run, then deletes its outbox row (in database
    ``outbox``); discards the run if Django drops it unrun (a rollback). Should the start fail
    (Redis away), the error goes up as before, and the row stays for a sweep to try again."""

    def __init__(self, prepared: PreparedRun, outbox: str | None) -> None:
        self._prepared = prepared
        self._outbox = outbox
        # Runs when this object is freed: CPython frees it as soon as Django drops the callback
        # list, in the thread that rolled back - or at exit, if the transaction never ended.
        self._discard = weakref.finalize(self, _discard, prepared)

    def __call__(self) -> None:
        self._discard.detach()
        run_id = self._prepared.handle.id
        try:
            self._prepared.start()
        except RunAlreadyStartedError as exc:  # a sweep found its row first (open past the grace period)
            logger.info("run %s was started by the outbox sweep before its commit's callback (%s)", run_id,
                        exc.status)
        if self._outbox is not None:
            try:
                forget(run_id, self._outbox)
            except DatabaseError as exc:  # the run has started: a sweep finds it so and deletes the row
                logger.warning("run %s started, but its outbox row could not be deleted: %s", run_id,
                               describe(exc))

    def __repr__(self) -> str:
        return f"start run {self._prepared.handle.id} on commit"


def _discard(prepared: PreparedRun) -> None:
    try:
        prepared.discard(ROLLED_BACK)
    except Exception as exc:  # a finalizer cannot raise: say it, the run stays pending until it expires
        logger.warning("could not mark run %s discarded after a rollback: %s", prepared.handle.id,
                       describe(exc))
