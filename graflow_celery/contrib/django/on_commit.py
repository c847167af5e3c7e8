"""``submit_on_commit``: a run that starts when the transaction that asked for it commits.

Submitting inside ``transaction.atomic`` races the commit: the first task may look for a row the
transaction has not committed yet. So the run is stored at once - its id known, reading
"pending" - and started by ``transaction.on_commit``. Django has no hook for a rollback: it drops
the callbacks of a transaction (or savepoint) that rolls back, unrun. So the callback carries a
finalizer: dropped without being called, it discards the run, which then reads "discarded".
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from celery import Celery
from django.db import transaction

from graflow_celery.backends.celery.run import PreparedRun, WorkflowRun, prepare, submit
from graflow_celery.contrib.django.project import celery_app
from graflow_celery.core.workflow import WorkflowContext
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
    if not transaction.get_connection(using).in_atomic_block:
        return submit(workflow, inputs, app=app, **options)
    prepared = prepare(workflow, inputs, app=app, **options)
    transaction.on_commit(StartOnCommit(prepared), using=using)
    return prepared.handle


class StartOnCommit:
    """The on-commit callback: starts the run; discards it if Django drops it unrun (a rollback)."""

    def __init__(self, prepared: PreparedRun) -> None:
        self._prepared = prepared
        # Runs when this object is freed: CPython frees it as soon as Django drops the callback
        # list, in the thread that rolled back - or at exit, if the transaction never ended.
        self._discard = weakref.finalize(self, _discard, prepared)

    def __call__(self) -> None:
        self._discard.detach()
        self._prepared.start()

    def __repr__(self) -> str:
        return f"start run {self._prepared.handle.id} on commit"


def _discard(prepared: PreparedRun) -> None:
    try:
        prepared.discard(ROLLED_BACK)
    except Exception as exc:  # a finalizer cannot raise: say it, the run stays pending until it expires
        logger.warning("could not mark run %s discarded after a rollback: %s", prepared.handle.id,
                       describe(exc))
