"""The Django app: graflow installed into the project's Celery app, every installed app's
``workflows`` module imported, in-process runs kept in a thread that holds a transaction, the
outbox sweep added to the project's workers."""

from __future__ import annotations

from django.apps import AppConfig
from django.db import connections
from django.utils.module_loading import autodiscover_modules

from graflow_celery.backends.memory.executor import run_in_callers_thread_when
from graflow_celery.contrib.django.outbox import OutboxSettings
from graflow_celery.contrib.django.outbox_sweep import add_outbox_sweep
from graflow_celery.contrib.django.project import celery_app


def transaction_open() -> bool:
    """A database transaction is open in this thread (always, inside a ``TestCase``)."""
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


class GraflowConfig(AppConfig):
    name = "graflow_celery.contrib.django"
    label = "graflow"
    default_auto_field = "django.db.models.BigAutoField"  # the migration's, whatever the project's
    verbose_name = "Graflow workflows"

    def ready(self) -> None:
        # Here, not in proj/celery.py: a workflows module imports models, which needs the app
        # registry ready (AppRegistryNotReady otherwise). Celery's Django fix-up calls
        # django.setup() when a worker starts, so workers get here too.
        app = celery_app()
        if OutboxSettings.from_app(app).sweep:  # read here: a bad value fails at startup
            add_outbox_sweep(app)  # before the worker reads its steps (Celery's fix-up is earlier)
        autodiscover_modules("workflows")
        # Steps of an in-process run in other threads would have their own connections, which
        # cannot see the transaction's rows (and SQLite locks them out): keep them in this one.
        run_in_callers_thread_when(transaction_open)
