"""A run ``prepare`` stored, started by its id alone from other processes (``start_pending``, what
the Django app's outbox does when the submitting process died): it starts once however many ask
at once, from the start node it was prepared with; a discarded or unknown run is reported and
never started."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import ConfigurationError, RunAlreadyStartedError
from graflow_celery.backends.celery.run import prepare, start_pending
from tests.contract import flows
from tests.support.workers import ROOT

# Says "ready", waits for the test's go (both processes at once), starts the run, prints what it had.
STARTER = textwrap.dedent("""
    import sys
    import redis
    from graflow_celery.backends.celery.run import start_pending
    from tests.support.celery_app import app

    run_id, url, go = sys.argv[1:]
    client = redis.Redis.from_url(url)
    print("ready", flush=True)
    assert client.blpop(go, timeout=60) is not None
    print(start_pending(run_id, app=app), flush=True)
""")


@pytest.fixture(autouse=True)
def _cluster(celery_workers):
    return celery_workers


def test_two_processes_starting_a_prepared_run_at_once_start_it_once(celery_app, redis_server):
    prepared = prepare(flows.auto_goto(), app=celery_app, start_node="finish")  # two start nodes: named
    run = prepared.handle
    go = f"test:start-pending:{run.id}"
    env = {**os.environ, "GRAFLOW_TEST_REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", STARTER, run.id, redis_server.url, go]
    starters = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    for starter in starters:
        assert starter.stdout is not None and starter.stdout.readline() == "ready\n"
    redis.Redis.from_url(redis_server.url).rpush(go, 1, 1)
    had = [starter.communicate(timeout=60)[0].strip() for starter in starters]
    assert all(starter.returncode == 0 for starter in starters)
    assert had.count("pending") == 1, had  # one started it...
    assert set(had) - {"pending"} <= {"running", "completed"}, had  # ... the other found it started
    assert run.result(timeout=30) == "finished"
    assert run.get_channel().get("log") == ["finish"]  # from its start node, once
    with pytest.raises(RunAlreadyStartedError) as info:
        prepared.start()
    assert info.value.status == "completed"
    assert start_pending(run.id, app=celery_app) == "completed"


def test_a_discarded_or_unknown_run_is_reported_and_never_started(celery_app):
    prepared = prepare(flows.pipeline(), app=celery_app)
    assert prepared.discard("the transaction rolled back")
    assert start_pending(prepared.handle.id, app=celery_app) == "discarded"
    assert prepared.handle.status() == "discarded"
    assert start_pending("no-such-run", app=celery_app) == "missing"


def test_an_eager_app_has_no_stored_runs_to_start():
    eager = Celery("start_pending_eager", broker="memory://", set_as_current=False)
    eager.conf.task_always_eager = True
    graflow_celery.install(eager)
    with pytest.raises(ConfigurationError, match="eagerly"):
        start_pending("any-run", app=eager)
