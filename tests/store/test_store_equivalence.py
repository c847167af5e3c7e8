"""Differential test: random sequences of transitions (every kind, real and skip tokens, branch
scopes, redeliveries, retries, forged steps, partial acknowledgements) applied to the memory store
and to the Lua script must make the same steps ready, hold the same frontier and end in the same
state."""

from __future__ import annotations

import random
import uuid

import pytest
import redis

from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.memory.store import MemoryRunStore
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import Delivery, NewStep, Step, Transition
from graflow_celery.graph_codec import GraphCodec

JOINS = {"J1": ("p1", "p2"), "J2": ("p1", "p2", "p3")}
ERROR = {"kind": "task", "type": "ValueError", "message": "boom", "task_id": "x"}


def identity(step: Step) -> tuple:
    return (step.id, step.node, step.scope, step.phase, step.cycle, step.barrier)


def random_transition(rng: random.Random, step: Step) -> Transition:
    deliver = [Delivery(node, rng.choice(required), required, skip=rng.random() < 0.4)
               for node, required in JOINS.items() if rng.random() < 0.5]
    enqueue = [NewStep(rng.choice("abc")) for _ in range(rng.choice([0, 0, 1, 2]))]
    roll = rng.random()
    if roll < 0.12 and step.scope.count("/") < 2:
        return Transition(step, "launched", launch=[f"m{i}" for i in range(rng.randint(1, 3))])
    if roll < 0.30:
        skips = [Delivery(d.node, d.src, d.required, skip=True) for d in deliver]
        return Transition(step, "skipped", deliver=skips)
    if roll < 0.40:
        run_end = "failed" if step.scope == "" and rng.random() < 0.5 else None
        return Transition(step, "failed", error=ERROR, run_end=run_end)
    if roll < 0.41:
        cancel = {"kind": "cancelled", "message": "stop", "task_id": step.node}
        return Transition(step, "cancelled", error=cancel, run_end="cancelled")
    if roll < 0.42:
        return Transition(step, "completed", result=b"1", run_end="terminated")
    return Transition(step, "completed", result=str(rng.random()).encode(), enqueue=enqueue, deliver=deliver)


@pytest.fixture(scope="module")
def client(redis_server):
    return redis.Redis.from_url(redis_server.url)


@pytest.mark.parametrize("seed", range(60))
def test_memory_store_and_lua_script_agree(client, seed):
    rng = random.Random(seed)
    memory = MemoryRunStore("run", TaskGraph())
    lua = RedisRunStore(client, Scripts(client), uuid.uuid4().hex, ttl=60, node_codec=GraphCodec())
    lua.initialize("{}", {"name": "equivalence"})
    first = memory.create(NewStep("a"))
    assert identity(first) == identity(lua.create(NewStep("a")))
    pending, applied, barriers = [first], [], []
    for _ in range(60):
        if not pending:
            break
        if rng.random() < 0.08:  # a failed attempt: both record the same next attempt once
            i = rng.randrange(len(pending))
            retried = memory.retry(pending[i], 0.0)
            assert retried == lua.retry(pending[i], 0.0) == pending[i].next_attempt()
            assert memory.retry(pending[i], 0.0) is None and lua.retry(pending[i], 0.0) is None
            pending[i] = retried
            continue
        if applied and rng.random() < 0.1:
            transition = rng.choice(applied)  # a redelivery
        elif rng.random() < 0.05:  # a forged step: changes nothing in either
            transition = random_transition(rng, Step(str(rng.randint(1, 500)), rng.choice("abcJ")))
        else:
            transition = random_transition(rng, pending.pop(rng.randrange(len(pending))))
            applied.append(transition)
        in_memory, in_redis = memory.apply(transition), lua.apply(transition)
        assert (in_memory.first_time, [identity(s) for s in in_memory.ready], in_memory.ended) == (
            in_redis.first_time, [identity(s) for s in in_redis.ready], in_redis.ended), transition
        if in_memory.first_time:
            pending += in_memory.ready
            barriers += [s.barrier for s in in_memory.ready if s.phase == "judge"]
        if rng.random() < 0.7:
            memory.ack_outbox(transition.step.id)
            lua.ack_outbox(transition.step.id)
    assert (memory.status(), (memory.error() or {}).get("kind"), memory.progress()) == (
        lua.status(), (lua.error() or {}).get("kind"), lua.progress())
    assert memory.frontier() == lua.frontier()
    assert memory.snapshot() == lua.snapshot()
    for step in [*pending, *(t.step for t in applied), Step("999", "a")]:
        assert memory.begin(step) == lua.begin(step), step
    for barrier in barriers:
        assert memory.branch_outcomes(barrier) == lua.branch_outcomes(barrier)
