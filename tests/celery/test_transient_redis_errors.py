"""Redis refusing work for a while (here: out of memory) delays a run; it never fails or forks it.

Run state is on its own Redis (``graflow_state_url``) and the broker on another, so the state
store can refuse writes while messages still flow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

import graflow_celery
from tests.support import celery_flows
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_until
from tests.support.workers import Worker


@pytest.fixture(scope="module")
def split(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Celery, RedisServer, RedisServer, Path]]:
    broker, state = RedisServer().start(), RedisServer().start()
    app = Celery("split_state", broker=broker.url, set_as_current=False)
    app.conf.graflow_state_url = state.url
    graflow_celery.install(app)
    yield app, broker, state, tmp_path_factory.mktemp("split-logs")
    broker.stop()
    state.stop()


def test_a_state_store_out_of_memory_for_a_while_delays_the_run_and_changes_nothing(split):
    app, broker, state, logs = split
    worker = Worker("oom", broker.url, logs, extra_env={"GRAFLOW_TEST_STATE_URL": state.url,
                                                        "GRAFLOW_PAUSE_SECONDS": "2"}).start()
    try:
        worker.wait_ready()
        run = graflow_celery.submit(celery_flows.paused(), app=app)
        wait_until(lambda: run.get_result("before") is not None, 30, "the first step")
        client = state.client()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 1)  # every write is refused with OOM from now on
        try:  # "pause" is in progress; its transition will be refused
            wait_until(lambda: "OutOfMemoryError" in worker.log.read_text(), 30, "a refused transition")
            time.sleep(3)
            assert run.status() == "running" and run.get_result("pause") is None
        finally:
            client.config_set("maxmemory", 0)
        assert run.wait(timeout=60) == "completed", worker.tail()
        assert run.result() == "after"
        assert run.get_channel().get("marks") == ["before", "after"]
        assert run.progress() == (3, 3)  # every step made ready was applied, and none twice
        assert "retrying the message" in worker.log.read_text()
    finally:
        worker.stop()
