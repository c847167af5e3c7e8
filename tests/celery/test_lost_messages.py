"""A step message the broker loses before any worker starts it is sent again: every step sent is
watched in the sent index until its message begins, and a live worker's sweep sends it again
once it has waited past ``graflow_send_grace`` (``sent_index.py``, ``sent_sweep.py``).

The workers here watch with a grace of 2 s and sweep every second (a 3 s step lease); the
broker keeps its default visibility timeout, so nothing else brings a lost message back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import WorkflowRun
from graflow_celery.backends.celery.keys import SENT_INDEX
from tests.contract import feedback_flows as ff
from tests.support import lost_flows
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_for, wait_until
from tests.support.workers import Worker, started

GRACE = 2.0  # seconds
LEASE = 3.0  # the sweep runs every third of it


Cluster = tuple[Celery, redis.Redis, RedisServer, Path]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    server = RedisServer().start()
    app = Celery("lost_messages", broker=server.url, set_as_current=False)
    graflow_celery.install(app, send_grace=GRACE, step_lease=LEASE)
    yield app, redis.Redis.from_url(server.url), server, tmp_path_factory.mktemp("lost-messages-logs")
    server.stop()


def workers(server: RedisServer, logs: Path, names: list[str], concurrency: int = 2,
            grace: float = GRACE) -> AbstractContextManager[dict[str, Worker]]:
    env = {"GRAFLOW_TEST_STEP_LEASE": str(LEASE), "GRAFLOW_TEST_SEND_GRACE": str(grace)}
    return started(names, server.url, logs, env, app_module="tests.support.lease_app",
                   concurrency=concurrency)


def resends(worker: Worker, run: WorkflowRun, step_id: str) -> int:
    pattern = rf"sending it again as message {re.escape(run.id)}:{step_id} \(time"
    return len(re.findall(pattern, worker.log.read_text()))


def marks(run: WorkflowRun) -> list[str]:
    return sorted(run.get_channel().get("marks", []))


def test_a_step_message_deleted_from_the_queue_before_any_worker_took_it_is_sent_again(cluster):
    app, client, server, logs = cluster
    run = graflow_celery.submit(lost_flows.two_steps(), app=app)  # no worker consumes the queue yet
    assert client.llen("celery") == 1
    client.delete("celery")  # the broker lost it
    assert client.zscore(SENT_INDEX, f"{run.id}|1|0") is not None
    with workers(server, logs, ["l1"]) as found:
        started_at = time.monotonic()
        assert run.wait(timeout=30) == "completed", found["l1"].tail()
        assert time.monotonic() - started_at < GRACE + 2 * LEASE
        assert resends(found["l1"], run, "1") == 1
    assert run.result() == "ab"
    assert run.progress() == (2, 2)  # every step applied, none twice
    assert marks(run) == ["a", "b"]


def test_a_step_waiting_behind_busy_workers_gets_few_duplicates_and_is_applied_once(cluster):
    app, _, server, logs = cluster
    with workers(server, logs, ["busy"], concurrency=1) as found:
        hog = graflow_celery.submit(lost_flows.hogging(), {"seconds": 9}, app=app)
        wait_until(lambda: marks(hog) == ["hog"], 30, "the hog to take the only process")
        run = graflow_celery.submit(lost_flows.two_steps(), app=app)  # waits about 9 s for the process
        assert run.wait(timeout=60) == "completed", found["busy"].tail()
        log = found["busy"].log.read_text()
        # Sent again at about 2 s and 6 s (grace, then twice and four times as long); the next: 14 s.
        assert 1 <= resends(found["busy"], run, "1") <= 3, log[-4000:]
        dropped = rf"dropping graflow_celery\.step message {re.escape(run.id)}:1 .*applied already"
        worker = found["busy"]
        wait_until(lambda: len(re.findall(dropped, worker.log.read_text())) == resends(worker, run, "1"), 30,
                   "each duplicate to be dropped")
    assert hog.wait(timeout=30) == "completed"
    assert resends(found["busy"], hog, "1") == 0  # it started at once
    assert run.progress() == (2, 2)
    assert marks(run) == ["a", "b"]  # the duplicates came after the step: dropped, never run


def test_a_parked_step_is_not_sent_again_by_the_sent_sweep(cluster):
    app, client, server, logs = cluster
    with workers(server, logs, ["p1"]) as found:
        run = graflow_celery.submit(ff.approval(), app=app)
        [request] = wait_for("the request", run.pending_feedback)
        # A late acknowledgement (it can land after a fast worker began the step) leaves the parked
        # step's member in the index, due now.
        client.zadd(SENT_INDEX, {f"{run.id}|{request.step_id}|0": 0})
        wait_until(lambda: client.zscore(SENT_INDEX, f"{run.id}|{request.step_id}|0") is None, 10,
                   "the sweep to drop the member")
        time.sleep(2 * GRACE)
        assert resends(found["p1"], run, request.step_id) == 0
        assert run.get_channel().get("log") == ["ask_refund"]  # ran once, parked since
        assert run.status() == "waiting"
        run.respond(request.feedback_id, True, by="ann")
        assert run.wait(timeout=30) == "completed"
    assert run.result() == "refunded, refund_ok=True"


def test_a_step_sent_with_a_countdown_longer_than_the_grace_is_not_sent_again(cluster):
    app, _, server, logs = cluster
    with workers(server, logs, ["cd"]) as found:
        later = graflow_celery.submit(lost_flows.counting_down(), app=app)
        first = graflow_celery.submit(lost_flows.first_counts_down(), app=app)
        assert later.wait(timeout=30) == "completed", found["cd"].tail()
        assert first.wait(timeout=30) == "completed", found["cd"].tail()
        assert resends(found["cd"], later, "2") == 0 and marks(later) == ["a", "later"]
        assert resends(found["cd"], first, "1") == 0


def test_the_sent_index_is_empty_once_runs_end(cluster):
    app, client, server, logs = cluster
    cancelled = graflow_celery.submit(lost_flows.two_steps(), app=app)  # sent, never started: cancelled
    cancelled.cancel()
    with workers(server, logs, ["e1", "e2"]) as found:
        runs = [graflow_celery.submit(flow(), app=app) for flow in (lost_flows.two_steps, lost_flows.fan) * 5]
        for run in runs:
            assert run.wait(timeout=30) == "completed", found["e1"].tail()
        wait_until(lambda: client.zcard(SENT_INDEX) == 0, GRACE + 3 * LEASE,
                   "the sent index to empty")
        assert all(run.progress().done == run.progress().total for run in runs)  # each applied once
