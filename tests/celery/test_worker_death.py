"""A worker SIGKILLed in the middle of a step is noticed in seconds, whatever the broker's
visibility timeout: its step's lease expires and a live worker's sweep sends the step again. A
step that runs long on a live worker keeps its lease and is never sent twice.

The workers here keep Celery's default visibility timeout for Redis (one hour): without leases,
the killed step would come back only after it.

By hand, a step longer than the default 30 s lease (takes about a minute)::

    GRAFLOW_LEASE_TEST_STEP_SECONDS=40 GRAFLOW_LEASE_TEST_LEASE=default \\
        .venv/bin/python -m pytest tests/celery/test_worker_death.py -k long_step -q
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from celery import Celery
from kombu.transport.redis import Channel

import graflow_celery
from graflow_celery import WorkflowRun
from graflow_celery.backends.celery.keys import RunKeys
from tests.support import celery_flows
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_until
from tests.support.workers import Worker, started

KILL_LEASE = 5  # seconds: graflow_step_lease of the workers in the kill test
LONG_STEP = float(os.environ.get("GRAFLOW_LEASE_TEST_STEP_SECONDS", "12"))
LONG_LEASE = os.environ.get("GRAFLOW_LEASE_TEST_LEASE", "3")  # "default": graflow_step_lease unset (30 s)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Celery, RedisServer, Path]]:
    server = RedisServer().start()
    app = Celery("worker_death", broker=server.url, set_as_current=False)
    graflow_celery.install(app)
    yield app, server, tmp_path_factory.mktemp("worker-death-logs")
    server.stop()


def running_workers(server: RedisServer, logs: Path, names: list[str], lease: str, slow_seconds: float,
                    visibility: str = "") -> AbstractContextManager[dict[str, Worker]]:
    env = {"GRAFLOW_TEST_STEP_LEASE": "" if lease == "default" else lease,
           "GRAFLOW_TEST_VISIBILITY": visibility, "GRAFLOW_SLOW_SECONDS": str(slow_seconds)}
    return started(names, server.url, logs, env, app_module="tests.support.lease_app")


def slow_runs(run: WorkflowRun) -> list[dict]:
    return run.get_channel().get("slow_runs", [])


def assert_each_transition_once(run: WorkflowRun) -> None:
    steps = celery_flows.KILLABLE_STEPS
    assert run.progress() == (steps, steps)  # every step applied, none twice
    assert sorted(run.get_channel().get("marks")) == ["after", "before", "m1", "m2"]
    assert run.results()["slow"] == "slow done"
    assert run.result() == "after"


def test_a_killed_workers_step_is_sent_again_in_seconds_with_the_default_visibility_timeout(cluster):
    app, server, logs = cluster
    assert "visibility_timeout" not in (app.conf.broker_transport_options or {})
    visibility = Channel.visibility_timeout
    assert visibility == 3600  # kombu's default for Redis: the dead worker's message waits this long
    with running_workers(server, logs, ["d1", "d2"], lease=str(KILL_LEASE), slow_seconds=3) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        wait_until(lambda: slow_runs(run), 30, "slow to start")
        victim = slow_runs(run)[0]["worker"]
        survivor = next(w for n, w in workers.items() if n != victim)
        killed = time.monotonic()
        workers[victim].kill()  # main process and pool: the message stays unacked for an hour
        assert run.wait(timeout=60) == "completed", [w.tail() for w in workers.values()]
        took = time.monotonic() - killed
        assert took < 60 and took < visibility / 50, took  # the lease, not the broker, brought it back
        runs = slow_runs(run)
        assert runs[0]["worker"] == victim and len(runs) >= 2  # the user function ran again: at least once
        assert {r["worker"] for r in runs[1:]} == {survivor.name}
        assert_each_transition_once(run)
        assert f"sending it again as message {run.id}:2" in survivor.log.read_text()

    # An hour later the broker gives the dead worker's message back. A worker with a 1 s visibility
    # timeout plays that part now: the message is a duplicate the frontier drops, and changes nothing.
    with running_workers(server, logs, ["late"], lease=str(KILL_LEASE), slow_seconds=3,
                         visibility="1") as late:
        dropped = re.compile(rf"dropping graflow_celery\.step message {run.id}:2 for run .*: "
                             r"step 2 was applied already")
        wait_until(lambda: dropped.search(late["late"].log.read_text()), 30,
                   "the dead worker's message to come back")
    assert slow_runs(run) == runs
    assert_each_transition_once(run)


def test_a_long_step_on_a_live_worker_keeps_its_lease_and_runs_once(cluster):
    app, server, logs = cluster
    lease_seconds = 30.0 if LONG_LEASE == "default" else float(LONG_LEASE)
    with running_workers(server, logs, ["l1", "l2"], lease=LONG_LEASE, slow_seconds=LONG_STEP) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        wait_until(lambda: slow_runs(run), 30, "slow to start")
        client = server.client()
        expiries = []
        while run.status() == "running" and not run.results().get("slow"):
            raw = client.hget(RunKeys(run.id).leases, "2")
            if raw:
                expiries.append(json.loads(raw)["expires"])
            time.sleep(0.2)
        assert run.wait(timeout=60) == "completed", [w.tail() for w in workers.values()]
        assert len(slow_runs(run)) == 1  # never sent twice while its worker renewed the lease
        assert_each_transition_once(run)
        renewals = len(set(expiries)) - 1  # every lease/3 while it ran (half of them, on a busy machine)
        assert renewals >= LONG_STEP / (lease_seconds / 3) / 2, expiries
        for worker in workers.values():
            assert "sending it again" not in worker.log.read_text()
