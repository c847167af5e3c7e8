"""Step leases and the sweep, against a real Redis: the Lua scripts on their own, and the keeper
and sweeper that call them. Leases here last a fraction of a second, so that they expire in a test.

A private redis-server: the lease index is one key for the whole database, which workers of other
tests would sweep.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from graflow_celery.backends.celery.keys import LEASE_INDEX
from graflow_celery.backends.celery.leases import LeaseKeeper, index_member
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.celery.sweep import Sweeper
from graflow_celery.backends.memory.store import MemoryRunStore
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import NewStep, Step, Transition
from graflow_celery.graph_codec import GraphCodec
from tests.support.redis_server import RedisServer

LEASE = 0.3  # seconds


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = RedisServer().start()
    yield redis.Redis.from_url(server.url)
    server.stop()


@pytest.fixture
def scripts(client: redis.Redis) -> Scripts:
    client.delete(LEASE_INDEX)  # this module's own server: each test starts with an empty index
    return Scripts(client)


def new_store(client: redis.Redis, scripts: Scripts, keeper: LeaseKeeper | None) -> RedisRunStore:
    store = RedisRunStore(client, scripts, uuid.uuid4().hex, ttl=600, node_codec=GraphCodec(), leases=keeper)
    store.initialize("{}", {"name": "lease-test"})
    return store


class Sent:
    """The sweeper's resend, recorded instead of published."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Step]] = []
        self._lock = threading.Lock()

    def __call__(self, run_id: str, step: Step) -> bool:
        with self._lock:
            self.steps.append((run_id, step))
        return True


def lease_of(client: redis.Redis, store: RedisRunStore, step_id: str) -> dict | None:
    raw = client.hget(store.keys.leases, step_id)
    return json.loads(raw) if raw else None


def members(client: redis.Redis, run_id: str) -> dict[str, float]:
    return {m.decode(): s for m, s in client.zrange(LEASE_INDEX, 0, -1, withscores=True)
            if m.decode().startswith(f"{run_id}|")}


def take_and_die(client: redis.Redis, scripts: Scripts, store: RedisRunStore, step: Step,
                 seconds: float = LEASE) -> str:
    """What a worker does before it is SIGKILLed mid-step: take the lease, index it, never renew."""
    token = uuid.uuid4().hex[:16]
    keys = store.keys
    expires = scripts.lease_take([keys.meta, keys.frontier, keys.leases], step.id, "dead-host:1", token,
                                 int(seconds * 1000), 600)
    assert expires > 0
    client.zadd(LEASE_INDEX, {index_member(store.run_id, step.id, token): expires})
    return token


def wait_past(client: redis.Redis, expires_ms: int) -> None:
    while True:
        seconds, micros = client.time()
        if seconds * 1000 + micros // 1000 > expires_ms:
            return
        time.sleep(0.02)


def test_a_lease_is_taken_for_a_step_on_the_frontier_and_indexed_with_its_expiry(client, scripts):
    keeper = LeaseKeeper(client, scripts, 30)
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    with store.lease(first):
        lease = lease_of(client, store, first.id)
        assert lease is not None and lease["owner"].endswith(f":{os.getpid()}")
        seconds, micros = client.time()
        assert 29_000 < lease["expires"] - (seconds * 1000 + micros // 1000) <= 30_000  # Redis time
        [(member, score)] = members(client, store.run_id).items()
        assert member == index_member(store.run_id, first.id, lease["token"])
        assert abs(score - lease["expires"]) <= 500
    assert lease_of(client, store, first.id) is None  # released: the step was not applied here
    assert members(client, store.run_id) == {}
    missing = Step("7", "nowhere")
    with store.lease(missing):  # not on the frontier: nothing is taken
        assert lease_of(client, store, missing.id) is None


def test_applying_or_retrying_a_step_deletes_its_lease(client, scripts):
    keeper = LeaseKeeper(client, scripts, 30)
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    with store.lease(first):
        [b] = store.apply(Transition(first, "completed", result=b"1", enqueue=[NewStep("b")])).ready
        assert lease_of(client, store, first.id) is None  # in the same script as the transition
    with store.lease(b):
        assert lease_of(client, store, b.id) is not None
        assert store.retry(b, 5.0) is not None
        assert lease_of(client, store, b.id) is None
    keeper.renew()  # the renewer's batch drops the index members of settled leases
    assert members(client, store.run_id) == {}


def test_concurrent_claims_of_one_expired_lease_exactly_one_wins(client, scripts):
    store = new_store(client, scripts, None)
    first = store.create(NewStep("a"))
    dead = take_and_die(client, scripts, store, first)
    wait_past(client, lease_of(client, store, first.id)["expires"])
    keys = [store.keys.meta, store.keys.frontier, store.keys.leases]
    answers: list[list] = []
    barrier = threading.Barrier(16)

    def claim(i: int) -> None:
        barrier.wait()
        answers.append(scripts.lease_claim(keys, first.id, dead, f"claimer:{i}", f"t{i}", 1000, 60_000))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [a for a in answers if a[0] == b"claimed"]
    assert len(won) == 1 and len(answers) == 16
    assert json.loads(won[0][1]) == first.to_dict() and won[0][3] == b"dead-host:1"
    assert all(a[0] == b"live" for a in answers if a[0] != b"claimed")


def test_concurrent_sweeps_send_a_dead_workers_step_once(client, scripts):
    store = new_store(client, scripts, None)
    first = store.create(NewStep("a"))
    take_and_die(client, scripts, store, first)
    wait_past(client, lease_of(client, store, first.id)["expires"])
    sent = Sent()
    sweepers = [Sweeper(client, Scripts(client), LEASE, sent) for _ in range(8)]
    threads = [threading.Thread(target=s.sweep) for s in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sent.steps == [(store.run_id, first)]
    lease = lease_of(client, store, first.id)
    assert lease["claims"] == 1 and lease["owner"] != "dead-host:1"
    assert list(members(client, store.run_id)) == [index_member(store.run_id, first.id, lease["token"])]


def test_a_renewed_lease_is_never_claimed(client, scripts):
    keeper = LeaseKeeper(client, scripts, LEASE)  # renewed every 0.1 s
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    sent = Sent()
    sweeper = Sweeper(client, scripts, LEASE, sent)
    with store.lease(first):
        taken = lease_of(client, store, first.id)
        deadline = time.monotonic() + 5 * LEASE
        while time.monotonic() < deadline:
            sweeper.sweep()
            time.sleep(0.03)
        renewed = lease_of(client, store, first.id)
    assert sent.steps == []
    assert renewed["token"] == taken["token"] and renewed["expires"] > taken["expires"] + 3 * LEASE * 1000
    time.sleep(2 * LEASE)
    sweeper.sweep()  # released: nothing to claim, and nothing left in the index
    assert sent.steps == [] and members(client, store.run_id) == {}


def test_a_released_lease_is_gone_and_its_step_is_not_sent_again(client, scripts):
    keeper = LeaseKeeper(client, scripts, LEASE)
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    with store.lease(first):  # e.g. handed off to another Celery task: the step is still on the frontier
        pass
    assert lease_of(client, store, first.id) is None and store.frontier() == {first.id: first}
    time.sleep(2 * LEASE)
    sent = Sent()
    Sweeper(client, scripts, LEASE, sent).sweep()
    assert sent.steps == [] and members(client, store.run_id) == {}


def test_stale_index_members_just_leave_the_index(client, scripts):
    sent = Sent()
    applied = new_store(client, scripts, None)
    a = applied.create(NewStep("a"))
    take_and_die(client, scripts, applied, a)
    applied.apply(Transition(a, "completed", result=b"1"))  # applied by a duplicate; the index lags
    ended = new_store(client, scripts, None)
    b = ended.create(NewStep("b"))
    take_and_die(client, scripts, ended, b)
    ended.cancel("stop")
    unknown = uuid.uuid4().hex
    client.zadd(LEASE_INDEX, {index_member(unknown, "3", "abc"): 1, "not|a member": 1, "x{y}|1|t": 1})
    time.sleep(LEASE + 0.1)
    Sweeper(client, scripts, LEASE, sent).sweep()
    assert sent.steps == []
    for run_id in (applied.run_id, ended.run_id, unknown, "not", "x{y}"):
        assert members(client, run_id) == {}
    assert lease_of(client, ended, b.id) is None


def test_a_step_taken_over_keeps_its_new_holder_and_a_claim_not_taken_backs_off(client, scripts):
    keeper = LeaseKeeper(client, scripts, 30)
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    take_and_die(client, scripts, store, first)
    wait_past(client, lease_of(client, store, first.id)["expires"])
    sent = Sent()
    sweeper = Sweeper(client, scripts, LEASE, sent)
    sweeper.sweep()
    claim = lease_of(client, store, first.id)
    wait_past(client, claim["expires"])
    sweeper.sweep()  # the re-sent message was not taken in time: claimed again, for twice as long
    again = lease_of(client, store, first.id)
    assert again["claims"] == 2 and len(sent.steps) == 2
    seconds, micros = client.time()
    assert again["expires"] - (seconds * 1000 + micros // 1000) > 1.5 * LEASE * 1000
    with store.lease(first):  # the re-sent message arrives: its delivery holds the step now
        holder = lease_of(client, store, first.id)
        assert "claims" not in holder and holder["token"] != again["token"]
        wait_past(client, again["expires"])
        sweeper.sweep()  # finds the old claim's member: not its lease any more, so it goes
        assert lease_of(client, store, first.id)["token"] == holder["token"]
        assert list(members(client, store.run_id)) == [index_member(store.run_id, first.id, holder["token"])]
        store.apply(Transition(first, "completed", result=b"1"))
    assert lease_of(client, store, first.id) is None and len(sent.steps) == 2


def test_the_memory_store_lease_is_a_no_op():
    store = MemoryRunStore("run-1", TaskGraph())
    first = store.create(NewStep("a"))
    with store.lease(first):
        store.apply(Transition(first, "completed", result=b"1"))
    assert store.status() == "completed"


def test_leases_and_the_sweep_load_their_scripts_again_on_a_redis_that_lost_them(client, scripts):
    keeper = LeaseKeeper(client, scripts, LEASE)
    store = new_store(client, scripts, keeper)
    first = store.create(NewStep("a"))
    client.script_flush()  # as after a restart without persistence of the script cache
    with store.lease(first):
        assert lease_of(client, store, first.id) is not None
        client.script_flush()
        keeper.renew()
    client.script_flush()
    take_and_die(client, scripts, store, first)
    time.sleep(LEASE + 0.1)
    client.script_flush()
    sent = Sent()
    Sweeper(client, scripts, LEASE, sent).sweep()
    assert sent.steps == [(store.run_id, first)]
