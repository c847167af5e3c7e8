"""The sent index against a real Redis: what the store writes and removes, and the sent sweep's
claims (``sent_claim.lua``) - who may be sent again, once, with the wait doubling each time.

A private redis-server: the sent index is one key for the whole database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from graflow_celery.backends.celery.keys import SENT_INDEX
from graflow_celery.backends.celery.leases import LeaseKeeper
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.sent_index import SentIndex
from graflow_celery.backends.celery.sent_sweep import SentSweep
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.core.steps import NewStep, Step, Transition
from graflow_celery.graph_codec import GraphCodec
from tests.support.redis_server import RedisServer

GRACE = 0.2  # seconds


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = RedisServer().start()
    yield redis.Redis.from_url(server.url)
    server.stop()


@pytest.fixture
def scripts(client: redis.Redis) -> Scripts:
    client.delete(SENT_INDEX)
    return Scripts(client)


def new_store(client: redis.Redis, scripts: Scripts) -> RedisRunStore:
    store = RedisRunStore(client, scripts, uuid.uuid4().hex, ttl=600, node_codec=GraphCodec(),
                          leases=LeaseKeeper(client, scripts, 30), sent=SentIndex(scripts, GRACE))
    store.initialize("{}", {"name": "sent-test"})
    return store


def watched(client: redis.Redis) -> dict[str, float]:
    return {m.decode(): s for m, s in client.zrange(SENT_INDEX, 0, -1, withscores=True)}


class Resent:
    def __init__(self) -> None:
        self.steps: list[tuple[str, Step]] = []
        self._lock = threading.Lock()

    def __call__(self, run_id: str, step: Step) -> bool:
        with self._lock:
            self.steps.append((run_id, step))
        return True


def sweep(client: redis.Redis, scripts: Scripts, resent: Resent) -> list[tuple[str, str]]:
    return SentSweep(client, scripts, SentIndex(scripts, GRACE), 600, batch=50).sweep(resent)


def test_a_step_is_watched_from_its_send_until_its_message_begins(client, scripts):
    store = new_store(client, scripts)
    first = store.create(NewStep("a"))
    seconds, micros = client.time()
    [score] = watched(client).values()
    assert abs(score - (seconds * 1000 + micros // 1000 + GRACE * 1000)) < 100  # Redis time + grace
    store.lease_at_begin = True
    store.begin(first)
    assert watched(client) == {}
    with store.lease(first):
        [b] = store.apply(Transition(first, "completed", result=b"1", enqueue=[NewStep("b")])).ready
    assert watched(client) == {}  # made ready, not yet acknowledged as sent
    store.ack_outbox(first.id)
    assert list(watched(client)) == [f"{store.run_id}|{b.id}|0"]
    store.begin(b)
    with store.lease(b):
        assert store.retry(b, 30.0) is not None
    store.ack_outbox(b.id, retry=True)
    [(member, score)] = watched(client).items()
    assert member == f"{store.run_id}|{b.id}|1" and score - (seconds * 1000) > 30_000  # countdown + grace


def test_only_a_waiting_unstarted_step_is_claimed_once_and_looked_at_again_twice_as_late(client, scripts):
    store = new_store(client, scripts)
    first = store.create(NewStep("a"))
    parked, handed, leased = (new_store(client, scripts) for _ in range(3))
    for other in (parked, handed, leased):
        other.create(NewStep("a"))
    client.hset(parked.keys.feedback_waiting, "1", "1:0")
    handed.hand_off("1", "token")
    LeaseKeeper(client, scripts, 30).take(leased.keys, "1", 600)
    ended = new_store(client, scripts)
    ended.create(NewStep("a"))
    ended.cancel("no")
    time.sleep(GRACE + 0.05)
    resent = Resent()
    sweepers = [threading.Thread(target=sweep, args=(client, scripts, resent)) for _ in range(6)]
    for thread in sweepers:
        thread.start()
    for thread in sweepers:
        thread.join()
    assert [(run_id, step.id) for run_id, step in resent.steps] == [(store.run_id, first.id)]  # once
    assert list(watched(client)) == [f"{store.run_id}|1|0"]  # the others left the index
    seconds, micros = client.time()
    first_wait = watched(client)[f"{store.run_id}|1|0"] - (seconds * 1000 + micros // 1000)
    assert GRACE * 1000 < first_wait <= 2 * GRACE * 1000
    time.sleep(2 * GRACE + 0.05)
    sweep(client, scripts, resent)
    assert len(resent.steps) == 2
    seconds, micros = client.time()
    assert watched(client)[f"{store.run_id}|1|0"] - (seconds * 1000 + micros // 1000) > 2 * GRACE * 1000
    store.lease_at_begin = True
    store.begin(first)  # the message arrived at last
    assert watched(client) == {}
