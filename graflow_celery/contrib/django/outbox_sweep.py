"""Every worker of the project starts the runs its app's outbox holds (``outbox.py``): a thread,
started and stopped with the worker's pool as the lease sweep's (``SweeperStep``). The Django app
adds it to the project's Celery app when ``CELERY_GRAFLOW_OUTBOX_SWEEP`` is on (the default), so
only in a project that has the app installed.

Every half grace period, give or take a fifth, so that workers started together do not all ask
the database at once, it takes the committed rows older than the grace period. Django's
connections belong to their thread: this thread's are closed after every pass - none is held
between passes, none is left half-used to a pool process forked meanwhile, and one broken by a
database restart is not reused. A database or Redis away is logged, and the next pass tries
again: the worker goes on.
"""

from __future__ import annotations

import logging
import random

from celery import Celery
from django.db import DatabaseError, connections

from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.sweep import SweeperStep, SweeperThread
from graflow_celery.contrib.django.outbox import UNAVAILABLE, Outbox, OutboxSettings
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.django")


class OutboxSweeper(SweeperThread):
    thread_name = "graflow-outbox-sweep"

    def __init__(self, outbox: Outbox, settings: OutboxSettings) -> None:
        self.outbox = outbox
        self.settings = settings
        super().__init__()

    def _sweep_forever(self) -> None:
        interval = self.settings.interval
        wait = random.uniform(0, interval)
        try:
            while not self._stop.wait(wait):
                wait = interval * random.uniform(0.8, 1.2)
                self._pass()
        finally:
            _close_connections()

    def _pass(self) -> None:
        try:
            self.outbox.start_committed(self.settings.grace)
        except DatabaseError as exc:
            logger.warning("the outbox sweep could not read the database: %s", describe(exc))
        except UNAVAILABLE as exc:
            logger.warning("the outbox sweep could not reach Redis or the broker: %s", describe(exc))
        except Exception as exc:  # the sweep must go on: the next pass tries again
            logger.error("the outbox sweep failed: %s", describe(exc))
        finally:
            _close_connections()


def _close_connections() -> None:
    try:
        connections.close_all()  # this thread's only
    except DatabaseError as exc:  # one that broke: gone all the same
        logger.info("the outbox sweep closed a broken database connection: %s", describe(exc))


class OutboxSweep(SweeperStep):
    """Worker bootstep (``apps.py`` adds it): this worker's outbox sweeper."""

    label = "graflow outbox sweep"

    def make(self, runtime: Runtime) -> OutboxSweeper:
        return OutboxSweeper(Outbox(runtime.app), OutboxSettings.from_app(runtime.app))


def add_outbox_sweep(app: Celery) -> None:
    """Every worker of ``app`` runs the outbox sweep (adding it twice changes nothing)."""
    app.steps["worker"].add(OutboxSweep)
