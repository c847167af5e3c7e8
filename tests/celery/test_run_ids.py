"""Run ids come from a safe alphabet, and every key of a run sits in the run's one cluster slot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from celery import Celery

import graflow_celery
from graflow_celery import ConfigurationError, MemoryChannel, WorkflowRun
from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.errors import InvalidRunIdError
from tests.contract import flows
from tests.support import celery_flows
from tests.support.redis_server import RedisServer

BAD_IDS = ["a}b", "{a}", "a{b", "a:b", "a b", "", " x", "-leading-dash", "x" * 101, "ü", "a\nb"]
GOOD_IDS = [uuid.uuid4().hex, str(uuid.uuid4()), "order-42", "A.b_c-1", "x" * 100]


@pytest.fixture(scope="module")
def cluster_node() -> Iterator[redis.Redis]:
    """A cluster-mode redis-server: no slots are served, but CLUSTER KEYSLOT answers."""
    server = RedisServer(cluster=True).start()
    yield server.client()
    server.stop()


def slot(node: redis.Redis, key: str | bytes) -> int:
    return int(node.execute_command("CLUSTER KEYSLOT", key))


def all_keys(keys: RunKeys) -> list[str]:
    names = [name for name, value in vars(RunKeys).items() if isinstance(value, property)]
    return [getattr(keys, name) for name in names if isinstance(getattr(keys, name), str)]


@pytest.mark.parametrize("run_id", GOOD_IDS)
def test_every_key_of_a_run_hashes_to_the_runs_slot(cluster_node, run_id):
    keys = RunKeys(run_id)
    expected = slot(cluster_node, run_id)  # the hash tag is exactly the run id
    names = all_keys(keys) + keys.state_keys()
    assert keys.done_channel in names and keys.meta in names
    names += [keys.channel_key(k) for k in [*celery_flows.AWKWARD_KEYS, "{list}", "{n}:meta"]]
    names += [keys.lock_key(k) for k in ["{lock}:x", "z}", "}:meta"]]
    assert {slot(cluster_node, name) for name in names} == {expected}
    assert all(name.startswith(f"gfc:{{{run_id}}}") for name in names)


def test_a_real_runs_keys_all_sit_in_its_slot(cluster_node, celery_workers, celery_app, redis_server):
    run = graflow_celery.submit(celery_flows.awkward_keys_flow(), app=celery_app)
    result = run.result(timeout=30)
    assert result == {key: i for i, key in enumerate(celery_flows.AWKWARD_KEYS)}
    assert run.status() == "completed"  # "z}:meta" did not land on the run's meta
    client = redis.Redis.from_url(redis_server.url)
    names = [k for k in client.scan_iter(match="*", count=1000) if run.id.encode() in k]
    assert len(names) >= len(celery_flows.AWKWARD_KEYS) + 4  # meta, graph, results, the channel...
    assert {slot(cluster_node, name) for name in names} == {slot(cluster_node, run.id)}, [
        n for n in names if slot(cluster_node, n) != slot(cluster_node, run.id)]


def test_channel_keys_must_be_non_empty_strings(celery_app):
    channel = Runtime.for_app(celery_app)._channel(uuid.uuid4().hex)
    for ch in (channel, MemoryChannel()):
        with pytest.raises(ConfigurationError, match="non-empty string"):
            ch.set("", 1)
        with pytest.raises(TypeError, match="a channel key must be a string, got int 5"):
            ch.set(5, 1)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="non-empty string"):
            ch.get("")


@pytest.fixture(scope="module")
def empty_app() -> Iterator[tuple[Celery, redis.Redis]]:
    """An app whose Redis holds nothing, to see that a refused id writes nothing."""
    server = RedisServer().start()
    app = Celery("run_ids", broker=server.url, set_as_current=False)
    graflow_celery.install(app)
    yield app, server.client()
    server.stop()


@pytest.mark.parametrize("run_id", BAD_IDS, ids=repr)
def test_a_bad_run_id_is_refused_at_submit_before_anything_is_written(empty_app, run_id):
    app, client = empty_app
    with pytest.raises(InvalidRunIdError) as info:
        graflow_celery.submit(flows.pipeline(), app=app, run_id=run_id)
    assert isinstance(info.value, ConfigurationError)
    assert f"invalid run id {run_id!r}" in str(info.value)
    assert "1 to 100 characters from A-Z, a-z, 0-9" in str(info.value)
    assert client.dbsize() == 0
    with pytest.raises(InvalidRunIdError, match="invalid run id"):
        WorkflowRun(run_id, app=app)
    assert client.dbsize() == 0
