"""Redis refusing writes for a while (out of memory; a master short of the replicas
``min-replicas-to-write`` asks for) delays a run; it never fails or forks it.

Run state is on its own Redis (``graflow_state_url``) and the broker on another, so the state
store can refuse writes while messages still flow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery.backends.celery.worker import transient
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


@pytest.mark.parametrize(("setting", "logged"), [
    ("maxmemory", "OutOfMemoryError"),  # out of memory, with the noeviction policy
    ("min-replicas-to-write", "NOREPLICAS"),  # a master without the replicas it must have to write
])
def test_a_state_store_refusing_writes_for_a_while_delays_the_run_and_changes_nothing(split, setting, logged):
    app, broker, state, logs = split
    worker = Worker(f"refused-{setting}", broker.url, logs, extra_env={"GRAFLOW_TEST_STATE_URL": state.url,
                                                                      "GRAFLOW_PAUSE_SECONDS": "2"}).start()
    try:
        worker.wait_ready()
        run = graflow_celery.submit(celery_flows.paused(), app=app)
        wait_until(lambda: run.get_result("before") is not None, 30, "the first step")
        client = state.client()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set(setting, 1)  # every write is refused from now on
        try:  # "pause" is in progress; its transition will be refused
            wait_until(lambda: logged in worker.log.read_text(), 30, "a refused transition")
            time.sleep(3)
            assert run.status() == "running" and run.get_result("pause") is None
        finally:
            client.config_set(setting, 0)
        assert run.wait(timeout=60) == "completed", worker.tail()
        assert run.result() == "after"
        assert run.get_channel().get("marks") == ["before", "after"]
        assert run.progress() == (3, 3)  # every step made ready was applied, and none twice
        assert "retrying the message" in worker.log.read_text()
    finally:
        worker.stop()


def test_noreplicas_is_transient_in_every_form_redis_py_raises_it(split):
    client = split[2].client()
    client.config_set("min-replicas-to-write", 1)
    try:
        attempts = [lambda: client.set("k", 1), lambda: client.eval("return redis.call('SET', 'k', 1)", 0),
                    lambda: client.pipeline(transaction=True).get("k").set("k", 1).execute(),
                    lambda: client.pipeline(transaction=False).get("k").set("k", 1).execute()]
        for attempt in attempts:
            with pytest.raises(redis.ResponseError) as info:
                attempt()
            assert transient(info.value), info.value
    finally:
        client.config_set("min-replicas-to-write", 0)
    assert not transient(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))
    assert not transient(redis.ResponseError("Command # 1 (SET NOREPLICAS x) of pipeline caused error: ERR"))
