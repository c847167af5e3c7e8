"""A real Flower shows each workflow step under its own name, with the run id as root id."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

import graflow_celery
from graflow_celery.errors import StepFailed
from tests.contract import feedback_flows as ff
from tests.contract import flows
from tests.support.redis_server import free_port
from tests.support.wait import wait_for
from tests.support.workers import ROOT, Worker


@pytest.fixture
def flower(redis_server, worker_logs) -> Iterator[str]:
    port = free_port()
    log = (worker_logs / "flower.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.support.celery_app", "flower", f"--port={port}",
         "--address=127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        env={**os.environ, "GRAFLOW_TEST_REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT),
             "FLOWER_UNAUTHENTICATED_API": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthcheck", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def flower_tasks(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/tasks", timeout=5) as resp:
        return json.loads(resp.read())


def test_flower_lists_steps_by_workflow_and_task_name(celery_app, redis_server, worker_logs, flower):
    worker = Worker("flowered", redis_server.url, worker_logs, queues="flowered", events=True).start()
    try:
        worker.wait_ready()
        time.sleep(1)  # let Flower's event consumer see the worker come online
        run = graflow_celery.submit(flows.pipeline(), app=celery_app, queue="flowered")
        assert run.result(timeout=30) == 12
        deadline = time.monotonic() + 20
        while True:
            mine = {tid: t for tid, t in flower_tasks(flower).items() if tid.startswith(f"{run.id}:")}
            if len(mine) == 3 and all(t["state"] == "SUCCESS" for t in mine.values()):
                break
            assert time.monotonic() < deadline, mine
            time.sleep(0.3)
        names = sorted(t["name"] for t in mine.values())
        assert names == ["pipeline.double", "pipeline.load", "pipeline.total"]
        assert {t["root_id"] for t in mine.values()} == {run.id}
        assert sorted(mine) == [f"{run.id}:{n}" for n in (1, 2, 3)]
    finally:
        worker.stop()


def wait_for_states(url: str, run_id: str, count: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        mine = {tid: t for tid, t in flower_tasks(url).items() if tid.startswith(f"{run_id}:")}
        if len(mine) >= count and all(t["state"] in ("SUCCESS", "FAILURE", "REVOKED") for t in mine.values()):
            return {t["name"]: t for t in mine.values()}
        assert time.monotonic() < deadline, mine
        time.sleep(0.3)


def test_flower_shows_failed_steps_as_failure_and_cancelled_ones_as_revoked(
        celery_app, redis_server, worker_logs, flower):
    worker = Worker("truthful", redis_server.url, worker_logs, queues="truthful", events=True).start()
    try:
        worker.wait_ready()
        time.sleep(1)
        failing = graflow_celery.submit(flows.policy_flow("best_effort"), app=celery_app, queue="truthful")
        assert failing.result(timeout=30) == "after"
        tasks = wait_for_states(flower, failing.id, 6)
        assert tasks["policies.bad_task"]["state"] == "FAILURE"
        assert tasks["policies.bad_task"]["exception"] == "ValueError('bad input')"
        assert tasks["policies.worse_task"]["state"] == "FAILURE"
        assert tasks["policies.ok_task"]["state"] == "SUCCESS"
        assert tasks["policies.ok_task"]["result"] == "'ok'"
        assert tasks["policies.after"]["args"] == "after()"

        cancelled = graflow_celery.submit(flows.control(flows.cancel_caught), app=celery_app,
                                          queue="truthful")
        assert cancelled.wait(timeout=30) == "cancelled"
        tasks = wait_for_states(flower, cancelled.id, 1)
        assert tasks["control.cancel_caught"]["state"] == "REVOKED"
    finally:
        worker.stop()


def test_a_step_waiting_for_a_person_shows_parked_then_resumed_then_success(
        celery_app, redis_server, worker_logs, flower):
    """Not SUCCESS while it waits (its worker let it go, but the step has not finished), and not
    PARKED once it runs again with its answer."""
    worker = Worker("parking", redis_server.url, worker_logs, queues="parking", events=True).start()
    try:
        worker.wait_ready()
        time.sleep(1)
        run = graflow_celery.submit(ff.asks_then_holds(), app=celery_app, queue="parking")
        [request] = wait_for("the request", run.pending_feedback)
        step = f"{run.id}:1"
        shown = wait_for_state(flower, step, "PARKED")
        assert shown["name"] == "fb_ask_then_hold.ask_then_hold" and shown["root_id"] == run.id
        time.sleep(1)  # the worker is done with the message: no success event follows
        assert flower_task(flower, step)["state"] == "PARKED"

        run.respond(request.feedback_id, True, by="tester")
        wait_for_state(flower, step, "RESUMED")  # running again: it holds until "go"
        run.get_channel().set("go", True)
        assert run.result(timeout=30) == "approved=True"
        shown = wait_for_state(flower, step, "SUCCESS")
        assert shown["result"] == "'approved=True'"
    finally:
        worker.stop()


def wait_for_state(url: str, task_id: str, state: str) -> dict:
    deadline = time.monotonic() + 20
    while (shown := flower_task(url, task_id)) is None or shown["state"] != state:
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    return shown


def flower_task(url: str, task_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/api/task/info/{task_id}", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        return None


def test_the_run_id_resolves_in_flower_to_the_run_with_its_final_state(
        celery_app, redis_server, worker_logs, flower, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_send_sent_event", True)  # this process announces runs
    worker = Worker("runrecord", redis_server.url, worker_logs, queues="runrecord", events=True).start()
    try:
        worker.wait_ready()
        time.sleep(1)
        ok = graflow_celery.submit(flows.pipeline(), app=celery_app, queue="runrecord")
        failed = graflow_celery.submit(flows.policy_flow("strict"), app=celery_app, queue="runrecord")
        assert ok.wait(timeout=30) == "completed" and failed.wait(timeout=30) == "failed"
        for run, state in ((ok, "SUCCESS"), (failed, "FAILURE")):
            deadline = time.monotonic() + 20
            while (record := flower_task(flower, run.id)) is None or record.get("state") != state:
                assert time.monotonic() < deadline, record
                time.sleep(0.3)
            assert record["name"] == run.name and record["root_id"] == run.id
        assert "failed under policy 'strict'" in flower_task(flower, failed.id)["exception"]
    finally:
        worker.stop()


def test_a_password_in_a_task_exception_reaches_neither_flower_nor_the_result_backend(
        celery_app, redis_server, worker_logs, flower):
    """Flower shows the step's exception by type and masked message, and its traceback masked; so
    does the step's result-backend record (kept although steps ignore results:
    ``task_store_errors_even_if_ignored``)."""
    worker = Worker("secretive", redis_server.url, worker_logs, queues="secretive", events=True,
                    extra_env={"GRAFLOW_TEST_STORE_ERRORS": "1"}).start()
    try:
        worker.wait_ready()
        time.sleep(1)
        run = graflow_celery.submit(flows.single(flows.leaks_a_password), app=celery_app, queue="secretive")
        assert run.wait(timeout=30) == "failed"
        wait_for_states(flower, run.id, 1)
        shown = flower_task(flower, f"{run.id}:1")
        assert shown is not None and shown["state"] == "FAILURE"
        assert shown["exception"] == f"ValueError('cannot reach {flows.MASKED_URL}')"
        assert shown["traceback"].endswith(f"\nValueError: cannot reach {flows.MASKED_URL}\n")
        assert ", in leaks_a_password\n" in shown["traceback"]  # the task's own frames

        stored = celery_app.AsyncResult(f"{run.id}:1")
        wait_for("the step's record", lambda: stored.state == "FAILURE")
        assert isinstance(stored.result, StepFailed)
        assert (stored.result.error_type, stored.result.error_message) == (
            "ValueError", f"cannot reach {flows.MASKED_URL}")
        assert stored.traceback == shown["traceback"]
        raw = redis_server.client().get(f"celery-task-meta-{run.id}:1")
        assert raw is not None and b"s3cret-pw" not in raw
        assert "s3cret-pw" not in json.dumps(shown)
    finally:
        worker.stop()


def test_a_celery_event_receiver_sees_task_failed_for_a_failed_step_and_the_run(
        celery_app, redis_server, worker_logs):
    """Celery's own event receiver (what every monitoring tool builds on), not only Flower."""
    seen: list[dict] = []
    ready = threading.Event()

    receivers: list = []

    def receive() -> None:
        with celery_app.connection_for_read() as conn:
            receivers.append(celery_app.events.Receiver(conn, handlers={"*": seen.append}))
            ready.set()
            with contextlib.suppress(Exception):  # the connection closes under it at the end
                receivers[0].capture(limit=None, timeout=None, wakeup=True)

    threading.Thread(target=receive, daemon=True).start()
    ready.wait(10)
    worker = Worker("evented", redis_server.url, worker_logs, queues="evented", events=True).start()
    try:
        worker.wait_ready()
        run = graflow_celery.submit(flows.policy_flow("strict"), app=celery_app, queue="evented")
        assert run.wait(timeout=30) == "failed"
        deadline = time.monotonic() + 20
        while not any(e.get("uuid") == run.id and e["type"] == "task-failed" for e in list(seen)):
            assert time.monotonic() < deadline, [e["type"] for e in seen]
            time.sleep(0.2)
        failed = {e["uuid"]: e for e in list(seen) if e["type"] == "task-failed"}
        step_failures = [e for uuid, e in failed.items() if uuid.startswith(f"{run.id}:")]
        assert any(e["exception"] == "ValueError('bad input')" for e in step_failures)
        assert "failed under policy 'strict'" in failed[run.id]["exception"]
    finally:
        if receivers:
            receivers[0].should_stop = True
        worker.stop()
