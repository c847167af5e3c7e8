"""The outbox of ``submit_on_commit`` in one process (the settings of ``django_project/``: SQLite in
memory), with a project app that keeps its runs in a real Redis: a pass starts the runs of rows
past the grace period and removes them, whatever it finds; SQLite has no SKIP LOCKED, and a run
still starts once. The settings, the worker bootstep only in a Django project's app, and the
sweeper thread riding out errors and closing its connections. The shop's tests
(``tests/django/test_outbox.py``) kill a process after its COMMIT, on PostgreSQL with a worker."""

from __future__ import annotations

import logging
import threading

import pytest
import redis
from celery import Celery
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, connections

import graflow_celery
from graflow_celery.backends.celery.run import prepare
from graflow_celery.contrib.django.models import PendingStart
from graflow_celery.contrib.django.outbox import Outbox, OutboxSettings, record
from graflow_celery.contrib.django.outbox_sweep import OutboxSweep, OutboxSweeper
from tests.contract import flows
from tests.eager.django_project.celery import app as project_app

NOBODY = "outbox-tests-nobody"  # a queue no worker reads: a started run's first step waits there


@pytest.fixture(scope="module", autouse=True)
def outbox_table():
    with connection.schema_editor() as editor:
        editor.create_model(PendingStart)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(PendingStart)


@pytest.fixture
def app(redis_server):
    """Not eager: its runs live in Redis (database 13 of the tests' server, emptied first)."""
    redis.Redis.from_url(redis_server.db_url(13)).flushdb()
    app = Celery("outbox_sqlite", broker=redis_server.db_url(13), set_as_current=False)
    return graflow_celery.install(app)


def rows() -> set[str]:
    return set(PendingStart.objects.values_list("run_id", flat=True))


def test_a_pass_starts_the_runs_of_committed_rows_past_the_grace_period_once(app, redis_server):
    run = prepare(flows.pipeline(), app=app, queue=NOBODY).handle
    record(run.id, app, "default")  # outside a transaction: committed at once
    outbox = Outbox(app)
    assert outbox.start_committed(grace=60) == []  # too recent: its callback may still come
    assert run.status() == "pending" and rows() == {run.id}
    assert outbox.start_committed(grace=0) == [(run.id, "pending")]
    assert run.status() == "running" and rows() == set()
    # A row left behind by a callback that started its run and died before deleting it:
    record(run.id, app, "default")
    assert outbox.start_committed(grace=0) == [(run.id, "running")]
    assert run.status() == "running"
    assert redis.Redis.from_url(redis_server.db_url(13)).llen(NOBODY) == 1  # its first step, sent once
    assert rows() == set()


def test_rows_of_runs_gone_or_discarded_are_removed_and_other_apps_rows_left(app):
    discarded = prepare(flows.pipeline(), app=app, queue=NOBODY)
    discarded.discard("rolled back")
    record(discarded.handle.id, app, "default")
    record("expired-run", app, "default")
    other = Celery("another_project", broker="memory://", set_as_current=False)
    record("other-apps-run", other, "default")
    assert set(Outbox(app).start_committed(grace=0)) == {(discarded.handle.id, "discarded"),
                                                         ("expired-run", "missing")}
    assert discarded.handle.status() == "discarded"
    assert rows() == {"other-apps-run"}
    PendingStart.objects.all().delete()


def test_an_eager_apps_pass_does_nothing():
    assert project_app.conf.task_always_eager
    record("some-run", project_app, "default")
    assert Outbox(project_app).start_committed(grace=0) == []
    PendingStart.objects.all().delete()


def test_the_sweep_is_a_worker_step_of_the_django_projects_app_only():
    assert OutboxSweep in project_app.steps["worker"]  # added by the Django app, when ready
    plain = Celery("no_django_here", broker="memory://", set_as_current=False)
    plain.conf.task_always_eager = True
    graflow_celery.install(plain)
    assert OutboxSweep not in plain.steps["worker"]


def test_the_settings():
    app = Celery("outbox_settings", broker="memory://", set_as_current=False)
    assert OutboxSettings.from_app(app) == OutboxSettings(grace=30.0, sweep=True)
    app.conf.graflow_outbox_grace, app.conf.graflow_outbox_sweep = 4, False
    assert OutboxSettings.from_app(app) == OutboxSettings(grace=4.0, sweep=False)
    assert OutboxSettings.from_app(app).interval == 2.0
    for grace in ("soon", 0.5, True, float("inf")):
        app.conf.graflow_outbox_grace = grace
        with pytest.raises(ImproperlyConfigured, match="OUTBOX_GRACE must be a number of seconds >= 1"):
            OutboxSettings.from_app(app)
    app.conf.graflow_outbox_grace, app.conf.graflow_outbox_sweep = 30, "no"
    with pytest.raises(ImproperlyConfigured, match="OUTBOX_SWEEP must be True or False"):
        OutboxSettings.from_app(app)


class FailingFirst:
    """An outbox whose first passes fail - the database away, then Redis, then a bug - each using
    the sweeper thread's connection first, as a real pass does. It counts that connection's
    closes: SQLite in memory ignores them (closing would lose the database), so they are seen here."""

    def __init__(self) -> None:
        self.failures = [DatabaseError("the database restarts"), redis.ConnectionError("Redis restarts"),
                         RuntimeError("a bug")]
        self.connections: set[object] = set()
        self.passes = 0
        self.closes = 0
        self.done = threading.Event()

    def start_committed(self, grace: float) -> list[tuple[str, str]]:
        mine = connections["default"]  # this thread's
        if mine not in self.connections:
            self.connections.add(mine)
            close = mine.close

            def counted() -> None:
                self.closes += 1
                close()

            mine.close = counted  # type: ignore[method-assign]
        mine.ensure_connection()
        self.passes += 1
        if self.failures:
            raise self.failures.pop(0)
        self.done.set()
        return []


def test_the_sweeper_thread_rides_out_errors_and_closes_its_connections(caplog):
    outbox = FailingFirst()
    sweeper = OutboxSweeper(outbox, OutboxSettings(grace=0.02)).start()  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="graflow_celery.django"):
        assert outbox.done.wait(10)
        sweeper.stop()
    assert outbox.passes >= 4
    assert connections["default"] not in outbox.connections  # the thread's own, not this one's
    assert outbox.closes > outbox.passes  # after every pass, and when the thread ends
    messages = [record.getMessage() for record in caplog.records]
    assert "the outbox sweep could not read the database: DatabaseError: the database restarts" in messages
    assert any(m.startswith("the outbox sweep could not reach Redis or the broker") for m in messages)
    assert "the outbox sweep failed: RuntimeError: a bug" in messages


def test_a_project_that_has_not_migrated_is_told_to(app):
    from django.db import transaction

    from graflow_celery.contrib.django import submit_on_commit

    with connection.schema_editor() as editor:
        editor.delete_model(PendingStart)
    try:
        told = r"outbox table 'graflow_pendingstart'.*manage.py migrate"
        with pytest.raises(ImproperlyConfigured, match=told), transaction.atomic():
            submit_on_commit(flows.pipeline(), app=app, queue=NOBODY)
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(PendingStart)
