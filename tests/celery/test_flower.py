"""A real Flower shows each workflow step under its own name, with the run id as root id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

import graflow_celery
from tests.contract import flows
from tests.support.redis_server import free_port
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
            mine = {tid: t for tid, t in flower_tasks(flower).items() if tid.startswith(run.id)}
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
