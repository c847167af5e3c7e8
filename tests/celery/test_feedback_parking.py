"""On Celery a step waiting for a person parks: no worker process waits with it. Fifty parked runs
on a worker of two processes leave it free for an ordinary run; answering them completes them,
each answer taken once. A parked step outlives its worker, and so does its deadline; a request
made in process, where it blocked, parks once resumed on Celery; and an answer whose step the
answering process could not send is sent by a worker's sweep.

The workers here - and the answering process - lease steps for 1 s (the workers' sweeps look
every third of a second): a parked step that held a lease, or was sent again by the sweep, would
show as a second run of its task.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import FeedbackNotWaitingError, GraflowError, MemoryBackend, WorkflowEngine, WorkflowRun
from graflow_celery.backends.celery.keys import FEEDBACK_DUE, LEASE_INDEX, RunKeys
from graflow_celery.backends.celery.runtime import Runtime
from tests.contract import feedback_flows as ff
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_for, wait_until
from tests.support.workers import Worker, started

RUNS = 50


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Celery, RedisServer, Path]]:
    server = RedisServer().start()
    app = Celery("feedback_parking", broker=server.url, set_as_current=False)
    app.conf.graflow_step_lease = 1.0  # as the workers': an answer is watched for two leases
    graflow_celery.install(app)
    yield app, server, tmp_path_factory.mktemp("feedback-parking-logs")
    server.stop()


def workers(server: RedisServer, logs: Path, names: list[str]) -> AbstractContextManager[dict[str, Worker]]:
    """Workers of two processes each, with 1 s step leases."""
    return started(names, server.url, logs, {"GRAFLOW_TEST_STEP_LEASE": "1"},
                   app_module="tests.support.lease_app", concurrency=2)


def request_of(app: Celery, run: WorkflowRun) -> graflow_celery.FeedbackRequest | None:
    return next((r for r in graflow_celery.pending_feedback(app, limit=200) if r.run_id == run.id), None)


def test_fifty_parked_runs_hold_no_worker_and_each_answer_is_taken_once(cluster):
    app, server, logs = cluster
    client = redis.Redis.from_url(server.url)
    with workers(server, logs, ["p1"]):
        began = time.monotonic()
        runs = [graflow_celery.submit(ff.approval(), app=app) for _ in range(RUNS)]
        ids = {run.id for run in runs}
        wait_until(lambda: len(ids & {r.run_id for r in graflow_celery.pending_feedback(app, limit=200)})
                   == RUNS, 30, f"{RUNS} parked requests")

        submitted = time.monotonic()
        ordinary = graflow_celery.submit(ff.ordinary(20), app=app)
        assert ordinary.result(timeout=20) == 0
        ordinary_took = time.monotonic() - submitted
        assert ordinary_took < 10, f"an ordinary 20-step run took {ordinary_took:.1f}s next to parked runs"
        assert ordinary.progress() == (20, 20)

        assert {run.status() for run in runs} == {"waiting"}
        listed = {r.id: r.status for r in graflow_celery.recent_runs(app, limit=200)}
        assert {listed[run.id] for run in runs} == {"waiting"} and listed[ordinary.id] == "completed"
        # Parked, no step holds a lease, and none ran twice (the 1 s lease sweep left them alone).
        assert all(run.get_channel().get("log") == ["ask_refund"] for run in runs)
        assert all(client.hlen(RunKeys(run.id).leases) == 0 for run in runs)
        assert not [m for m in client.zrange(LEASE_INDEX, 0, -1) if m.decode().split("|")[0] in ids]

        requests = {r.run_id: r for r in graflow_celery.pending_feedback(app, limit=200) if r.run_id in ids}
        for i, run in enumerate(runs):
            graflow_celery.respond(requests[run.id].feedback_id, i % 2 == 0, by=f"user{i}", app=app)
        for run in runs:
            with pytest.raises(FeedbackNotWaitingError) as second:
                graflow_celery.respond(requests[run.id].feedback_id, True, by="late", app=app)
            assert second.value.reason == "answered"
        for i, run in enumerate(runs):
            expected = "refunded, refund_ok=True" if i % 2 == 0 else "kept, refund_ok=False"
            assert run.result(timeout=30) == expected
            [entry] = run.feedback_history()
            assert (entry.value, entry.responded_by) == (i % 2 == 0, f"user{i}")
        took = time.monotonic() - began
        assert took < 30, f"{RUNS} runs parked, answered and finished in {took:.1f}s"
    assert not ids & {r.run_id for r in graflow_celery.pending_feedback(app, limit=200)}


def test_a_parked_step_and_its_deadline_outlive_their_worker(cluster):
    app, server, logs = cluster
    client = redis.Redis.from_url(server.url)
    with workers(server, logs, ["k1"]) as first:
        waiting = graflow_celery.submit(ff.approval(), app=app)
        timing = graflow_celery.submit(ff.with_default(), {"timeout": 2.0}, app=app)
        request = wait_for("the request", lambda: request_of(app, waiting))
        wait_for("the timed request", lambda: request_of(app, timing))
        # k1 holds the wake-up of the timed request unacknowledged (a countdown message): killed,
        # that message would come back only after the broker's visibility timeout, an hour.
        wait_until(lambda: client.hlen("unacked") >= 1, 10, "the wake-up message held by k1")
        assert client.zscore(FEEDBACK_DUE, f"{timing.id}|{request_of(app, timing).step_id}:0")
        first["k1"].kill()
    with workers(server, logs, ["k2"]) as second:
        graflow_celery.respond(request.feedback_id, True, by="ann", app=app)
        assert waiting.result(timeout=20) == "refunded, refund_ok=True"
        assert timing.result(timeout=20) == "anonymous"  # the deadline sweep woke it
        assert "its wake-up did not come" in second["k2"].log.read_text()
    [entry] = timing.feedback_history()
    assert entry.outcome == "timed_out"
    assert not client.zrange(FEEDBACK_DUE, 0, -1)


def test_a_request_made_in_process_parks_once_resumed_on_celery_and_its_answer_sends_it(cluster, tmp_path):
    app, server, logs = cluster
    client = redis.Redis.from_url(server.url)
    context = MemoryBackend(portable=True).new_run(ff.approval().graph, name="fb_approval",
                                                   initial_channel={"timeout": 120})
    ran = threading.Thread(target=lambda: _quietly(context), daemon=True)
    ran.start()
    local = graflow_celery.local_run(context.run_id)
    wait_for("the request blocking in process", local.pending_feedback)
    path = local.checkpoint(str(tmp_path / "blocked.json"))  # the request says: it blocks, not parks
    local.cancel("moving to Celery")
    ran.join(10)
    with workers(server, logs, ["m1"]):
        run = graflow_celery.resume(path, app=app)
        wait_until(lambda: run.get_channel().get("log") == ["ask_refund", "ask_refund"], 20,
                   "the step to run again on Celery")
        [request] = wait_for("the request on Celery", run.pending_feedback)
        member = f"{run.id}|{request.step_id}:0"
        # It parks now: its deadline is watched by the workers' sweep, like any parked request's.
        wait_until(lambda: client.zscore(FEEDBACK_DUE, member) is not None, 10, "the deadline watched")
        wait_until(lambda: client.hlen(RunKeys(run.id).leases) == 0, 10, "the parked step's lease given back")
        run.respond(request.feedback_id, True, by="ann")
        assert run.result(timeout=20) == "refunded, refund_ok=True"
        assert run.get_channel().get("log") == ["ask_refund"] * 3
    assert client.zscore(FEEDBACK_DUE, member) is None


def _quietly(context: object) -> None:
    with contextlib.suppress(GraflowError):  # cancelled once its checkpoint is taken
        WorkflowEngine().execute(context)  # type: ignore[arg-type]


def test_an_answer_taken_by_a_process_that_dies_before_sending_its_step_is_sent_by_the_sweep(cluster):
    app, server, logs = cluster
    client = redis.Redis.from_url(server.url)
    with workers(server, logs, ["d1"]):
        run = graflow_celery.submit(ff.approval(), app=app)  # no deadline: only an answer can wake it
        request = wait_for("the request", lambda: request_of(app, run))
        key = f"{request.step_id}:0"
        wait_until(lambda: client.hlen(RunKeys(run.id).leases) == 0, 10, "the step parked")
        # The answering process takes the answer - the store's Lua script - and dies before it sends.
        store = Runtime.for_app(app).feedback(run.id)
        taken = store.answer(key, {"value": True, "by": "ann", "reason": None})
        assert taken.refused is None and taken.resend is not None
        answered = time.monotonic()
        assert run.result(timeout=10) == "refunded, refund_ok=True"
        took = time.monotonic() - answered
        assert took < 6, f"the sweep sent the answered step {took:.1f}s after the answer (2 leases: 2 s)"
        assert run.get_channel().get("log") == ["ask_refund", "ask_refund"]  # sent once, not again and again
        with pytest.raises(FeedbackNotWaitingError):
            run.respond(request.feedback_id, False, by="bob")
        wait_until(lambda: client.zscore(FEEDBACK_DUE, f"{run.id}|{key}") is None, 10, "the member dropped")


def test_an_answer_whose_step_cannot_be_sent_stands_and_the_sweep_sends_the_step(cluster, caplog):
    app, server, logs = cluster
    with workers(server, logs, ["b1"]) as started_workers, _closed_port() as port:
        run = graflow_celery.submit(ff.approval(), {"timeout": 30}, app=app)
        request = wait_for("the request", lambda: request_of(app, run))
        # Answered from a process whose broker is down: the run's state is reachable, the broker is not.
        cut_off = Celery("feedback_parking", broker=f"redis://127.0.0.1:{port}/0", set_as_current=False)
        cut_off.conf.update(graflow_state_url=server.url, graflow_step_lease=1.0, task_publish_retry=False,
                            broker_connection_retry=False, broker_connection_timeout=1)
        graflow_celery.install(cut_off)
        response = graflow_celery.respond(request.feedback_id, True, by="ann", app=cut_off)
        assert (response.approved, response.responded_by) == (True, "ann")  # the answer stands
        assert "could not be sent again now" in caplog.text
        assert run.result(timeout=10) == "refunded, refund_ok=True"
        assert run.get_channel().get("log") == ["ask_refund", "ask_refund"]
        assert "was answered but its step was not sent again" in started_workers["b1"].log.read_text()


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    """A local port nothing listens on (held, so that nothing else takes it meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]
