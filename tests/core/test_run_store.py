"""The run store's counting, applied directly: idempotent per step, exact under concurrency."""

from __future__ import annotations

import threading

import pytest

from graflow_celery.backends.memory_store import MemoryRunStore
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import Delivery, NewStep, Step, Transition


@pytest.fixture
def store():
    return MemoryRunStore("run-1", TaskGraph())


def test_applying_a_step_twice_returns_the_same_outbox_and_counts_once(store):
    first = store.create(NewStep("a"))
    t = Transition(first, "completed", result=b"1", enqueue=[NewStep("b"), NewStep("c")])
    applied = store.apply(t)
    again = store.apply(t)
    assert applied.first_time and not again.first_time
    assert [s.node for s in again.ready] == ["b", "c"] == [s.node for s in applied.ready]
    assert store.progress() == (1, 3)
    store.ack_outbox(first.id)
    assert store.apply(t).ready == []  # sent and acknowledged: nothing to send again


def test_a_join_fires_once_per_wave_under_concurrent_deliveries(store):
    first = store.create(NewStep("a"))
    preds = tuple(f"p{i}" for i in range(16))
    spread = store.apply(Transition(first, "completed", result=b"0", enqueue=[NewStep(p) for p in preds]))
    fired: list[Step] = []
    lock = threading.Lock()

    def finish(step: Step) -> None:
        ready = store.apply(Transition(step, "completed", result=b"1",
                                       deliver=[Delivery("join", step.node, preds)])).ready
        with lock:
            fired.extend(ready)

    threads = [threading.Thread(target=finish, args=(s,)) for s in spread.ready]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s.node for s in fired] == ["join"]
    store.apply(Transition(fired[0], "completed", result=b"2"))
    assert store.status() == "completed"


def test_the_last_branch_fires_the_judge_once(store):
    group = store.create(NewStep("g"))
    launched = store.apply(Transition(group, "launched", launch=[f"m{i}" for i in range(50)])).ready
    judges: list[Step] = []
    lock = threading.Lock()

    def finish(step: Step) -> None:
        ready = store.apply(Transition(step, "completed", result=b"1")).ready
        store.apply(Transition(step, "completed", result=b"1"))  # a redelivery changes nothing
        with lock:
            judges.extend(ready)

    threads = [threading.Thread(target=finish, args=(s,)) for s in launched]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(judges) == 1
    judge = judges[0]
    assert (judge.node, judge.phase, judge.barrier) == ("g", "judge", group.id)
    assert len(store.branch_outcomes(group.id)) == 50
    assert store.status() == "running"
    store.apply(Transition(judge, "completed", result=b"{}"))
    assert store.status() == "completed"
