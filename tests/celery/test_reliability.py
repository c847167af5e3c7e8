"""Damage on purpose - SIGKILL a worker mid-task, redeliver a message, send garbage - then check
that the workflow still completes and that no transition happened twice. The SIGKILL tests run
with Redis as the broker and with RabbitMQ (run state in Redis)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery

import graflow_celery
from graflow_celery import WorkflowRun
from graflow_celery.backends.celery.runtime import Runtime
from tests.conftest import private_vhost
from tests.support import celery_flows
from tests.support.redis_server import RedisServer
from tests.support.workers import Worker, started

SLOW_SECONDS = 3
VISIBILITY = 5  # an unacked message of a dead worker is delivered again after this (Redis broker)


@dataclass
class Cluster:
    """An app, the private Redis holding its run state, and its broker: that Redis, or a private
    RabbitMQ vhost (``broker_url``)."""

    app: Celery
    server: RedisServer
    logs: Path
    broker_url: str | None = None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = RedisServer().start()
    app = Celery("reliability", broker=server.url, set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY, "unacked_restore_interval": 1}
    graflow_celery.install(app)
    yield Cluster(app, server, tmp_path_factory.mktemp("reliability-logs"))
    server.stop()


@pytest.fixture(scope="module")
def amqp_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """RabbitMQ as the broker (a vhost of its own), run state in a private Redis."""
    with private_vhost() as vhost:
        server = RedisServer().start()
        app = Celery("reliability_amqp", broker=vhost.url, set_as_current=False)
        app.conf.graflow_state_url = server.url
        graflow_celery.install(app)
        yield Cluster(app, server, tmp_path_factory.mktemp("reliability-amqp-logs"), vhost.url)
        server.stop()


@pytest.fixture(params=["redis", "amqp"])
def any_cluster(request: pytest.FixtureRequest) -> Cluster:
    return request.getfixturevalue("cluster" if request.param == "redis" else "amqp_cluster")


def running_workers(cluster: Cluster, names: list[str]) -> AbstractContextManager[dict[str, Worker]]:
    env = {"GRAFLOW_TEST_VISIBILITY": str(VISIBILITY), "GRAFLOW_SLOW_SECONDS": str(SLOW_SECONDS)}
    return started(names, cluster.server.url, cluster.logs, env, broker_url=cluster.broker_url)


def wait_for_slow(run: WorkflowRun, count: int = 1, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(runs := run.get_channel().get("slow_runs", [])) < count:
        assert time.monotonic() < deadline, "slow never started"
        time.sleep(0.05)
    return runs


KILLABLE_STEPS = celery_flows.KILLABLE_STEPS  # before, slow, the group "fan", m1, m2, its judge, after
KILLABLE_RESULTS = {"before": "before", "slow": "slow done", "fan": {"m1": "m1", "m2": "m2"}, "m1": "m1",
                    "m2": "m2", "after": "after"}


def assert_each_transition_once(run: WorkflowRun, marks_once: bool = True) -> None:
    """Every step of ``killable`` was made ready once and applied once. progress() is (steps
    applied, steps made ready): a join that fired twice would raise both, so they are compared
    with the workflow's own count, not with each other. ``marks_once``: no mark task was
    interrupted, so each ran exactly once (user functions run at least once)."""
    assert run.progress() == (KILLABLE_STEPS, KILLABLE_STEPS)
    assert run.results() == KILLABLE_RESULTS
    marks = run.get_channel().get("marks")
    assert marks[0] == "before" and marks[-1] == "after"
    if marks_once:
        assert sorted(marks) == ["after", "before", "m1", "m2"]
    else:
        assert set(marks) == {"after", "before", "m1", "m2"}


def test_sigkill_a_whole_worker_in_the_middle_of_a_task(any_cluster: Cluster):
    """Redis gives the dead worker's message back after its visibility timeout; RabbitMQ at once,
    when the worker's connection drops - well before the step's lease (30 s) would expire."""
    app = any_cluster.app
    with running_workers(any_cluster, ["k1", "k2"]) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        victim = wait_for_slow(run)[0]["worker"]
        killed = time.monotonic()
        workers[victim].kill()  # SIGKILL main process and pool: the message stays unacked
        assert run.wait(timeout=60) == "completed", [w.tail() for w in workers.values()]
        took = time.monotonic() - killed
        slow_runs = run.get_channel().get("slow_runs")
        assert slow_runs[0]["worker"] == victim
        assert len(slow_runs) == 2  # the user function ran again: at least once
        assert_each_transition_once(run)
        assert run.result() == "after"
        survivor = next(w for n, w in workers.items() if n != victim)
        assert "sending it again" not in survivor.log.read_text()  # the broker brought it back, not a lease
        if any_cluster.broker_url:
            assert Runtime.for_app(app).settings.step_lease == 30
            assert took < SLOW_SECONDS + 10, took  # redelivered at once: the step ran again right away


def test_sigkill_the_pool_process_running_the_task(any_cluster: Cluster):
    with running_workers(any_cluster, ["p1", "p2"]) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=any_cluster.app)
        entry = wait_for_slow(run)[0]
        os.kill(entry["pid"], signal.SIGKILL)  # reject_on_worker_lost: requeued at once
        assert run.wait(timeout=60) == "completed", [w.tail() for w in workers.values()]
        assert len(run.get_channel().get("slow_runs")) == 2
        assert_each_transition_once(run)


def test_redelivered_step_messages_change_nothing(cluster: Cluster):
    app = cluster.app
    with running_workers(cluster, ["r1", "r2"]):
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        wait_for_slow(run)

        def redeliver(step_id: str, node: str) -> None:  # as a broker would: same task id, same step
            step = {"id": step_id, "node": node, "scope": "", "phase": "run", "cycle": 0, "data": None,
                    "attempt": 0, "barrier": ""}
            app.send_task("graflow_celery.step", args=(run.id, step), task_id=f"{run.id}:{step_id}")

        redeliver("1", "before")  # already applied: must not run again nor queue slow again
        redeliver("2", "slow")  # still running elsewhere: may run twice, must apply once
        assert run.wait(timeout=60) == "completed"
        assert_each_transition_once(run)
        assert 1 <= len(run.get_channel().get("slow_runs")) <= 2


def test_malformed_messages_are_dropped_and_workers_go_on(cluster: Cluster):
    app = cluster.app
    with running_workers(cluster, ["g1"]) as workers:
        for args in [("run", "not a dict"), (42, {}), ("run", {"id": "x", "node": "n"}), ("no-such-run", {
                "id": "1", "node": "n"})]:
            app.send_task("graflow_celery.step", args=args)
        run = graflow_celery.submit(celery_flows.celery_step(), app=app)
        assert run.result(timeout=30) == 43
        log = workers["g1"].log.read_text()
        assert log.count("dropping graflow_celery.step message") == 4
        assert log.count(": malformed step") == 2
        assert "for run 42: invalid run id 42" in log
        assert "for run 'no-such-run': the run is unknown or expired" in log
