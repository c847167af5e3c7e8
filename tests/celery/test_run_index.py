"""The run index behind ``recent_runs()``: per app, newest first, bounded by
``graflow_run_index_size``, expiring with the state TTL, skipping runs whose state has expired,
with each run's status read live from its state. Runs are stored with ``prepare`` (nothing is
sent, so no worker is needed), in a database of the session's private redis-server."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import ConfigurationError, recent_runs
from graflow_celery.backends.celery.keys import RunKeys, run_index_key
from graflow_celery.backends.celery.run import prepare
from tests.contract import flows

DB = 3  # no other test uses it
_apps = itertools.count()


@pytest.fixture
def app(redis_server) -> Celery:
    made = Celery(f"run_index_{next(_apps)}", broker=redis_server.db_url(DB), set_as_current=False)
    return graflow_celery.install(made, run_index_size=3, state_ttl=600)


def client(redis_server) -> redis.Redis:
    return redis.Redis(port=redis_server.port, db=DB)


def test_newest_first_bounded_and_expiring(app, redis_server):
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [prepare(flows.pipeline(), app=app).handle.id for _ in range(5)]
    listed = recent_runs(app, limit=10)
    assert [r.id for r in listed] == ids[:1:-1]  # the newest 3, newest first
    assert {(r.workflow, r.status) for r in listed} == {("pipeline", "pending")}
    assert all(before <= r.submitted_at <= datetime.now(UTC) for r in listed)
    assert listed[0].to_dict() == {"id": ids[4], "workflow": "pipeline", "status": "pending",
                                   "submitted_at": listed[0].submitted_at}
    key = run_index_key(app.main)
    assert client(redis_server).zcard(key) == 3
    assert 0 < client(redis_server).ttl(key) <= 600
    assert [r.id for r in recent_runs(app, limit=2)] == [ids[4], ids[3]]


def test_status_is_read_live_and_expired_runs_are_skipped(app, redis_server):
    kept, gone = (prepare(flows.pipeline(), app=app) for _ in range(2))
    kept.discard("rolled back")
    client(redis_server).delete(RunKeys(gone.handle.id).meta)  # as if its state had expired
    assert [(r.id, r.status) for r in recent_runs(app)] == [(kept.handle.id, "discarded")]
    assert client(redis_server).zrange(run_index_key(app.main), 0, -1) == [kept.handle.id.encode()]


def test_each_app_has_its_own_index(app, redis_server):
    other = graflow_celery.install(Celery("run_index_other", broker=redis_server.db_url(DB),
                                          set_as_current=False))
    mine = prepare(flows.pipeline(), app=app).handle.id
    assert mine in [r.id for r in recent_runs(app)]
    assert mine not in [r.id for r in recent_runs(other)]


def test_bad_limits_and_sizes_are_refused(app, redis_server):
    with pytest.raises(ConfigurationError, match="limit must be a whole number >= 1, got 0"):
        recent_runs(app, limit=0)
    bad = Celery("run_index_bad", broker=redis_server.db_url(DB), set_as_current=False)
    with pytest.raises(ConfigurationError, match="graflow_run_index_size must be a whole number >= 0"):
        graflow_celery.install(bad, run_index_size=-1)


def test_size_zero_keeps_no_index(redis_server):
    app = graflow_celery.install(Celery("run_index_none", broker=redis_server.db_url(DB),
                                        set_as_current=False), run_index_size=0)
    prepare(flows.pipeline(), app=app)
    assert recent_runs(app) == []
    assert not client(redis_server).exists(run_index_key(app.main))


def test_an_eager_app_has_no_stored_runs():
    app = Celery("run_index_eager", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    graflow_celery.submit(flows.pipeline(), app=graflow_celery.install(app))
    assert recent_runs(app) == []


def test_entries_older_than_the_state_ttl_leave_the_index(redis_server):
    app = graflow_celery.install(Celery("run_index_ttl", broker=redis_server.db_url(DB),
                                        set_as_current=False), state_ttl=1)
    old = prepare(flows.pipeline(), app=app).handle.id
    key = run_index_key(app.main)
    time.sleep(1.2)
    new = prepare(flows.pipeline(), app=app).handle.id  # adding trims what is older than the TTL
    assert client(redis_server).zrange(key, 0, -1) == [new.encode()]
    assert old not in [r.id for r in recent_runs(app)]
