"""The run store's counting, applied directly - the memory store and the Lua script against a real
Redis: idempotent per step id, exact under concurrent and duplicate arrivals."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.memory.store import MemoryRunStore
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import Delivery, NewStep, Step, Transition
from graflow_celery.errors import ConfigurationError, WorkflowDiscardedError
from graflow_celery.graph_codec import GraphCodec


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryRunStore("run-1", TaskGraph())
    server = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.url)
    run_id = uuid.uuid4().hex
    store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
    store.initialize("{}", {"name": "store-test"})
    return store


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


def test_a_failed_branch_reaches_the_barrier_as_an_outcome(store):
    group = store.create(NewStep("g"))
    ok, bad = store.apply(Transition(group, "launched", launch=["ok", "bad"])).ready
    store.apply(Transition(ok, "completed", result=b'"fine"'))
    record = {"kind": "task", "task_id": "bad", "type": "ValueError", "message": "boom"}
    [judge] = store.apply(Transition(bad, "failed", error=record)).ready
    outcomes = store.branch_outcomes(judge.barrier)
    assert [(o.success, o.error_message, o.result) for o in outcomes] == [
        (True, None, b'"fine"'), (False, "bad: ValueError: boom", None)]
    assert store.status() == "running"  # the group's policy decides, not the store


def test_ending_the_run_stops_everything_after_it(store):
    first = store.create(NewStep("a"))
    spread = Transition(first, "completed", result=b"1", enqueue=[NewStep("b"), NewStep("c")])
    [b, c] = store.apply(spread).ready
    record = {"kind": "cancelled", "message": "stop", "task_id": "b"}
    assert store.apply(Transition(b, "cancelled", error=record, run_end="cancelled")).ready == []
    assert store.status() == "cancelled"
    assert store.error()["message"] == "stop"
    assert store.apply(Transition(c, "completed", result=b"2", enqueue=[NewStep("d")])).ready == []
    assert not store.cancel("again")


def test_a_discarded_run_never_starts(store):
    assert store.discard("rolled back")
    with pytest.raises(WorkflowDiscardedError, match="rolled back"):
        store.create(NewStep("a"))
    assert store.status() == "discarded"
    assert store.frontier() == {} and store.progress() == (0, 0)


def test_a_run_starts_once(store):
    first = store.create(NewStep("a"))
    with pytest.raises(ConfigurationError, match="cannot start: it is running already"):
        store.create(NewStep("b"))
    assert store.frontier() == {first.id: first} and store.progress() == (0, 1)
    store.apply(Transition(first, "completed", result=b"1"))
    with pytest.raises(ConfigurationError, match="cannot start: it is completed already"):
        store.create(NewStep("a"))
    assert store.status() == "completed" and store.frontier() == {}


def test_of_a_start_and_a_discard_at_once_exactly_one_wins(store):
    arrive = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def start() -> None:
        arrive.wait()
        try:
            outcome["start"] = store.create(NewStep("a"))
        except WorkflowDiscardedError as exc:
            outcome["start"] = exc

    def discard() -> None:
        arrive.wait()
        outcome["discard"] = store.discard("rolled back")

    threads = [threading.Thread(target=start), threading.Thread(target=discard)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = isinstance(outcome["start"], Step)
    assert outcome["discard"] is not started
    assert store.status() == ("running" if started else "discarded")
    assert len(store.frontier()) == (1 if started else 0)


def test_a_run_that_was_never_stored_does_not_start(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    store = RedisRunStore(client, Scripts(client), uuid.uuid4().hex, ttl=600, node_codec=GraphCodec())
    with pytest.raises(ConfigurationError, match="no such run"):
        store.create(NewStep("a"))
    assert client.keys(f"gfc:{{{store.run_id}}}:*") == []


def test_every_redis_key_of_a_run_expires(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    store = RedisRunStore(client, Scripts(client), uuid.uuid4().hex, ttl=600, node_codec=GraphCodec())
    store.initialize("{}", {"name": "ttl-test"})
    group = store.create(NewStep("g"))
    [member] = store.apply(Transition(group, "launched", launch=["m"])).ready
    store.apply(Transition(member, "completed", result=b"1"))
    keys = client.keys(f"gfc:{{{store.run_id}}}:*")
    assert len(keys) >= 6
    assert all(0 < client.ttl(k) <= 600 for k in keys), {k: client.ttl(k) for k in keys}


# --- the frontier: what may run -------------------------------------------------------------------


def test_a_step_is_on_the_frontier_from_made_ready_until_applied(store):
    first = store.create(NewStep("a"))
    assert store.frontier() == {first.id: first}
    spread = Transition(first, "completed", result=b"1", enqueue=[NewStep("b"), NewStep("c")])
    [b, c] = store.apply(spread).ready
    assert store.frontier() == {b.id: b, c.id: c}
    assert store.frontier([c.id, "99"]) == {c.id: c}
    start = store.begin(b)
    assert (start.status, start.applied, start.frontier) == ("running", False, b)
    store.apply(Transition(b, "completed", result=b"2"))
    assert store.frontier() == {c.id: c}
    assert store.begin(b).applied and store.begin(b).frontier is None


def test_a_step_that_is_not_on_the_frontier_changes_nothing(store):
    first = store.create(NewStep("a"))
    forged = Step("7", "a")  # an id the run never made ready
    applied = store.apply(Transition(forged, "completed", result=b"1", run_end="terminated"))
    assert (applied.first_time, applied.ready) == (False, [])
    assert store.status() == "running" and store.progress() == (0, 1)
    assert store.frontier() == {first.id: first}


def test_a_straggler_after_the_end_is_not_applied_and_stays_on_the_frontier(store):
    first = store.create(NewStep("a"))
    spread = Transition(first, "completed", result=b"1", enqueue=[NewStep("b"), NewStep("c")])
    [b, c] = store.apply(spread).ready
    assert store.cancel("stop")
    late = store.apply(Transition(c, "completed", result=b"3", enqueue=[NewStep("d")]))
    assert (late.first_time, late.ready) == (False, [])
    assert store.result("c") is None
    assert not store.begin(c).applied
    assert store.frontier() == {b.id: b, c.id: c}  # a resumed run can still run both


def test_a_retry_moves_the_frontier_to_the_next_attempt_once(store):
    first = store.create(NewStep("a"))
    again = store.retry(first, 0.5)
    assert again == first.next_attempt()
    assert store.retry(first, 0.5) is None  # a second delivery of attempt 0 does not retry again
    assert store.frontier() == {first.id: again}
    start = store.begin(first)
    assert start.frontier == again
    assert start.retry is not None and start.retry[0] == again and 0 <= start.retry[1] <= 0.5
    store.ack_outbox(first.id, retry=True)
    assert store.begin(first).retry is None
    store.apply(Transition(again, "completed", result=b"1"))
    assert store.status() == "completed"


def test_retries_of_one_attempt_under_concurrent_deliveries_record_one_next_attempt(store):
    first = store.create(NewStep("a"))
    winners: list[Step] = []

    def retry() -> None:
        found = store.retry(first, 0.0)
        if found is not None:
            winners.append(found)

    threads = [threading.Thread(target=retry) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert winners == [first.next_attempt()]


def test_the_first_hand_off_token_is_the_one_a_completion_must_carry(store):
    first = store.create(NewStep("a"))
    assert store.begin(first).handoff_token is None
    assert store.hand_off(first.id, "token-1") == "token-1"
    assert store.hand_off(first.id, "token-2") == "token-1"  # a redelivered hand-off keeps it
    assert store.begin(first).handoff_token == "token-1"
    store.apply(Transition(first, "completed", result=b"1"))
    assert store.begin(first).handoff_token is None
