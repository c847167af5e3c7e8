"""Durable runs on real workers: a checkpoint of a live run, recover() after the broker lost the
messages, warm and cold shutdown of a worker in the middle of a step."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import Checkpoint, CheckpointManager, WorkflowEngine, WorkflowRun
from tests.support import celery_flows
from tests.support.redis_server import RedisServer
from tests.support.signal_recorder import recorded
from tests.support.wait import wait_for
from tests.support.workers import Worker, started

SLOW_SECONDS = 3
VISIBILITY = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Celery, RedisServer, Path]]:
    server = RedisServer().start()
    app = Celery("durability", broker=server.url, set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY, "unacked_restore_interval": 1}
    graflow_celery.install(app)
    yield app, server, tmp_path_factory.mktemp("durability-logs")
    server.stop()


def running_workers(server: RedisServer, logs: Path,
                    names: list[str]) -> AbstractContextManager[dict[str, Worker]]:
    env = {"GRAFLOW_TEST_VISIBILITY": str(VISIBILITY), "GRAFLOW_SLOW_SECONDS": str(SLOW_SECONDS)}
    return started(names, server.url, logs, env)


def assert_each_transition_once(run: WorkflowRun) -> None:
    assert run.progress() == (celery_flows.KILLABLE_STEPS, celery_flows.KILLABLE_STEPS)
    assert sorted(run.get_channel().get("marks")) == ["after", "before", "m1", "m2"]


def test_a_checkpoint_of_a_live_run_resumes_on_workers_and_in_process(cluster, tmp_path):
    app, server, logs = cluster
    with running_workers(server, logs, ["c1"]):
        run = graflow_celery.submit(celery_flows.gated(), app=app)
        wait_for("the gate", lambda: run.get_channel().get("gate_waiting"))
        path = run.checkpoint(str(tmp_path / "live.json"), metadata={"why": "before the gate opens"})
        checkpoint = Checkpoint.load(path)
        assert [s.node for s in checkpoint.state.frontier.values()] == ["gate"]
        assert checkpoint.state.status == "running"
        assert checkpoint.metadata.user_metadata == {"why": "before the gate opens"}
        run.cancel("replaced by its checkpoint")
        run.get_channel().set("open", True)  # its gate task returns; as a straggler it changes nothing

        resumed = graflow_celery.resume(path, app=app)
        assert resumed.id != run.id
        wait_for("the resumed gate", lambda: resumed.get_channel().get("gate_waiting"))
        resumed.get_channel().set("open", True)
        assert resumed.result(timeout=30) == 43
        assert resumed.progress() == (celery_flows.GATED_STEPS, celery_flows.GATED_STEPS)

    context, _ = CheckpointManager.resume_from_checkpoint(checkpoint)  # in process, the same point
    context.channel.set("open", True)
    assert WorkflowEngine().execute(context) == 43  # slow_add, a Celery task, runs in process here


def test_recover_resends_the_steps_whose_messages_the_broker_lost(cluster):
    app, server, logs = cluster
    client = redis.Redis.from_url(server.url)
    client.delete("celery")  # what earlier tests left in this private broker
    run = graflow_celery.submit(celery_flows.killable(), app=app)  # no worker yet: one message queued
    assert client.llen("celery") == 1
    client.delete("celery")  # the broker lost it (a flushed queue, a failover)
    with running_workers(server, logs, ["r1", "r2"]):
        time.sleep(1)
        assert run.status() == "running" and run.progress() == (0, celery_flows.KILLABLE_STEPS)  # stuck
        assert run.recover() == 1
        assert run.wait(timeout=60) == "completed"
        assert run.recover() == 0  # nothing to do for an ended run
    assert_each_transition_once(run)


@pytest.mark.parametrize("sig, runs", [(signal.SIGTERM, 1), (signal.SIGQUIT, 2)])
def test_warm_shutdown_finishes_the_step_cold_shutdown_delivers_it_again(cluster, sig, runs):
    """SIGTERM (warm): the worker finishes the running step before it exits. SIGQUIT (cold): it
    exits at once; the unacknowledged step is delivered again to another worker."""
    app, server, logs = cluster
    with running_workers(server, logs, [f"s{sig}a", f"s{sig}b"]) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        first = wait_for("slow", lambda: run.get_channel().get("slow_runs"))[0]
        victim = workers[first["worker"]]
        assert victim.proc is not None
        os.kill(victim.proc.pid, sig)
        assert run.wait(timeout=60) == "completed", [w.tail() for w in workers.values()]
        assert victim.proc.wait(30) is not None
        slow_runs = run.get_channel().get("slow_runs")
        assert len(slow_runs) == runs
        assert_each_transition_once(run)


def test_events_are_reported_once_per_transition_when_a_killed_workers_step_is_delivered_again(cluster):
    app, server, logs = cluster
    with running_workers(server, logs, ["e1", "e2"]) as workers:
        run = graflow_celery.submit(celery_flows.killable(), app=app)
        victim = wait_for("slow", lambda: run.get_channel().get("slow_runs"))[0]["worker"]
        workers[victim].kill()
        assert run.wait(timeout=60) == "completed"
        # the events follow the last transition in its worker: keep it alive until they are out
        wait_for("run_finished",
                 lambda: any(e["signal"] == "run_finished" for e in recorded(run.id, server.url)))
    events = recorded(run.id, server.url)
    finished = Counter(e["task_id"] for e in events if e["signal"] == "step_finished")
    assert finished == Counter({"before": 1, "slow": 1, "m1": 1, "m2": 1, "after": 1})
    assert Counter(e["task_id"] for e in events if e["signal"] == "step_started")["slow"] == 2
    assert [e["signal"] for e in events].count("group_judged") == 1
    assert [e["signal"] for e in events].count("run_finished") == 1
