"""The outbox of ``submit_on_commit``: a run recorded in the project's database by the transaction
that submits it, and started by whoever finds it committed and not started.

``submit_on_commit`` writes a ``PendingStart`` row in the submitting transaction; the on-commit
callback starts the run, then deletes the row. A process that dies between the COMMIT and that
callback (killed, out of memory, a deploy) leaves the row behind - committed, so its run is due.
Every worker of the project (``outbox_sweep.py``) and ``manage.py graflow start-pending`` look
for rows older than a grace period and start their runs with ``start_pending``, which starts a
run once whoever asks: a row found by two workers, or by a worker and the callback, is harmless.
A row is visible to other connections only once its transaction has committed, so a run is never
started before its commit, however long the transaction stays open; a rollback takes the row
with it (and the run reads "discarded", ``on_commit.py``).

Settings, the Celery app's (in Django settings, with the ``CELERY`` namespace):
``CELERY_GRAFLOW_OUTBOX_GRACE`` - seconds a row waits for its callback before a sweep starts its
run (default 30; workers look every half of it); ``CELERY_GRAFLOW_OUTBOX_SWEEP`` - whether every
worker sweeps (default True; False to leave it to the command, from cron or beat).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router, transaction
from django.db.models.functions import Now

from graflow_celery.backends.celery.eager import eager
from graflow_celery.backends.celery.run import start_pending
from graflow_celery.backends.celery.worker import RETRYABLE
from graflow_celery.redact import describe

if TYPE_CHECKING:
    from graflow_celery.contrib.django.models import PendingStart

logger = logging.getLogger("graflow_celery.django")

DEFAULT_GRACE = 30.0
BATCH = 100  # rows one pass takes from a database; a full batch is followed by another at once
UNAVAILABLE: tuple[type[BaseException], ...] = (redis.RedisError, *RETRYABLE)  # the pass waits for the next


@dataclass(frozen=True)
class OutboxSettings:
    grace: float = DEFAULT_GRACE
    sweep: bool = True  # every worker of the project sweeps

    @classmethod
    def from_app(cls, app: Celery) -> OutboxSettings:
        grace = app.conf.get("graflow_outbox_grace")
        sweep = app.conf.get("graflow_outbox_sweep")
        return cls(DEFAULT_GRACE if grace is None else _grace(grace),
                   True if sweep is None else _sweep(sweep))

    @property
    def interval(self) -> float:
        """Seconds between a worker's passes (each one jittered)."""
        return self.grace / 2


def _grace(raw: Any) -> float:
    try:
        seconds = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 1):
        raise ImproperlyConfigured(
            f"CELERY_GRAFLOW_OUTBOX_GRACE must be a number of seconds >= 1, got {raw!r}")
    return seconds


def _sweep(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ImproperlyConfigured(f"CELERY_GRAFLOW_OUTBOX_SWEEP must be True or False, got {raw!r}")
    return raw


def app_name(app: Celery) -> str:
    return app.main or "default"


def pending_starts() -> type[PendingStart]:
    """The model, looked up when used: this module is imported with the app's package, before
    Django's app registry is ready to define models."""
    return apps.get_model("graflow", "PendingStart")  # type: ignore[no-any-return]


def record(run_id: str, app: Celery, using: str) -> None:
    """In the open transaction of database ``using``: the run starts when it commits."""
    # created by the database's clock, which every process that sweeps reads too
    model = pending_starts()
    try:
        model.objects.using(using).create(run_id=run_id, app=app_name(app), created=Now())
    except DatabaseError as exc:
        raise ImproperlyConfigured(
            f"could not record run {run_id} in graflow's outbox table {model._meta.db_table!r} of database "
            f"{using!r} ({type(exc).__name__}: {exc}): has `manage.py migrate` run since "
            "graflow_celery.contrib.django added it (migration 0002_pending_start)?") from exc


def forget(run_id: str, using: str) -> None:
    """The run has started."""
    pending_starts().objects.using(using).filter(run_id=run_id).delete()


class Outbox:
    """The committed rows of one Celery app, in every database that holds the table."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.name = app_name(app)
        self._found: set[str] = set()  # databases seen to have the table (it does not go away)

    def databases(self) -> list[str]:
        """The databases the router lets hold the table and where it exists (migrated)."""
        model = pending_starts()
        table = model._meta.db_table
        for alias in connections:
            if alias not in self._found and router.allow_migrate_model(alias, model) \
                    and table in connections[alias].introspection.table_names():
                self._found.add(alias)
        return [alias for alias in connections if alias in self._found]

    def start_committed(self, grace: float, batch: int = BATCH) -> list[tuple[str, str]]:
        """One pass: start the runs of the rows committed at least ``grace`` seconds ago, by the
        database's clock, and delete those rows. Returns (run id, the status the run had) - its
        status "pending" when this pass started it."""
        if eager(self.app):  # its runs live in the processes that submit them: nothing is recorded
            return []
        handled: list[tuple[str, str]] = []
        for alias in self.databases():
            while True:
                taken = self._start_rows(alias, grace, batch)
                handled += taken
                if len(taken) < batch:
                    break
        return handled

    def _start_rows(self, alias: str, grace: float, batch: int) -> list[tuple[str, str]]:
        table = pending_starts().objects.using(alias)
        rows = table.filter(app=self.name, created__lte=Now() - timedelta(seconds=grace))
        handled: list[tuple[str, str]] = []
        with transaction.atomic(using=alias):
            if connections[alias].features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)  # workers sweeping at once split the rows
            # else (SQLite) every sweeper sees every row: a run still starts once
            for run_id in rows.order_by("created").values_list("run_id", flat=True)[:batch]:
                try:
                    status = start_pending(run_id, app=self.app)
                except UNAVAILABLE:  # the rows stay, and the runs started so far are found started next time
                    raise
                except Exception as exc:  # e.g. a run this process cannot load: the row stays, for next time
                    logger.error("the outbox could not start run %s: %s", run_id, describe(exc))
                    continue
                _report(run_id, status)
                handled.append((run_id, status))
            table.filter(run_id__in=[run_id for run_id, _ in handled]).delete()
        return handled


def _report(run_id: str, status: str) -> None:
    if status == "pending":
        logger.warning("run %s: its transaction committed but the process that submitted it did not start "
                       "it (it died after the commit?); started now", run_id)
    elif status == "missing":
        logger.warning("run %s: its transaction committed but it never started, and its state is gone "
                       "(expired): nothing to start", run_id)
    elif status == "discarded":
        logger.warning("run %s: its transaction committed but the run was discarded (an on-commit callback "
                       "registered before it raised, and Django dropped the rest?)", run_id)
    else:
        logger.info("run %s had started (%s): its row is removed", run_id, status)
