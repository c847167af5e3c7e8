"""The feedback stores directly - the memory one and the Lua scripts on a real Redis: the first
request stays, an answer is taken once (also when many arrive at once), deadlines are Redis's
(or this process's) time, and the index of waiting requests drops what no longer waits."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import redis

from graflow_celery.backends.celery.feedback_store import RedisFeedback, pending_in, prune
from graflow_celery.backends.celery.keys import FEEDBACK_DUE, FEEDBACK_INDEX, RunKeys
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.memory.feedback import MemoryFeedback
from graflow_celery.backends.memory.store import MemoryRunStore
from graflow_celery.core.feedback import FeedbackType
from graflow_celery.core.feedback_record import FeedbackRecord
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import NewStep, Step
from graflow_celery.graph_codec import GraphCodec


def made(step: Step, timeout: float | None = None, prompt: str = "ok?") -> FeedbackRecord:
    return FeedbackRecord.new(task=step.node, step=step.id, kind=FeedbackType.APPROVAL, prompt=prompt,
                              options=None, metadata={"empty": [], "n": 1}, timeout=timeout, channel_key=None,
                              write_to_channel=False, workflow="wf")


@pytest.fixture(params=["memory", "redis"])
def stores(request):
    """(run store, feedback store) of one running run whose first step is on the frontier."""
    if request.param == "memory":
        lock = threading.RLock()
        store = MemoryRunStore("run-1", TaskGraph(), lock=lock)
        store.create(NewStep("a"))
        return store, MemoryFeedback(store, lock)
    server = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.db_url(4))
    run_id = uuid.uuid4().hex
    store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
    store.initialize("{}", {"name": "feedback-store-test"})
    store.create(NewStep("a"))
    return store, RedisFeedback(client, Scripts(client), run_id, 600, grace=1)


def first_step(store) -> Step:
    [step] = store.frontier().values()
    return step


def test_the_first_request_stays_and_its_step_waits(stores):
    store, feedback = stores
    step = first_step(store)
    asked = feedback.ask(step, "1:0", made(step))
    again = feedback.ask(step, "1:0", made(step, prompt="changed?"))
    assert again.record == asked.record and again.record.prompt == "ok?"
    assert again.record.metadata == {"empty": [], "n": 1}  # kept as written (no Lua re-encoding)
    assert asked.record.status == "waiting" and asked.record.created <= asked.now
    assert feedback.waiting_steps() == {step.id}


def test_an_answer_is_taken_once_even_when_many_arrive_together(stores):
    store, feedback = stores
    step = first_step(store)
    feedback.ask(step, "1:0", made(step))
    outcomes = []
    barrier = threading.Barrier(12)

    def answer(i: int) -> None:
        barrier.wait()
        outcomes.append(feedback.answer("1:0", {"value": True, "by": f"u{i}", "reason": None}))

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [o for o in outcomes if o.refused is None]
    assert len(taken) == 1 and {o.refused for o in outcomes if o.refused} == {"answered"}
    record = feedback.record("1:0")
    assert record.answer == taken[0].record.answer and record.status == "answered"
    assert feedback.waiting_steps() == set()
    assert feedback.answer("9:0", {"value": True}).refused == "unknown"


def test_a_deadline_refuses_late_answers_and_times_the_request_out_when_its_step_asks_again(stores):
    store, feedback = stores
    step = first_step(store)
    asked = feedback.ask(step, "1:0", made(step, timeout=0.2))
    assert asked.record.deadline == asked.record.created + 200
    time.sleep(0.3)
    late = feedback.answer("1:0", {"value": True})
    assert late.refused == "timed_out" and feedback.record("1:0").status == "waiting"  # nothing changed
    timed_out = feedback.ask(step, "1:0", made(step, timeout=0.2)).record
    assert timed_out.status == "timed_out" and timed_out.settled >= timed_out.deadline
    assert feedback.waiting_steps() == set()


def test_a_request_is_made_once_and_its_outcome_first_read_once_even_by_many_at_once(stores):
    store, feedback = stores
    step = first_step(store)
    first, again = feedback.ask(step, "1:0", made(step)), feedback.ask(step, "1:0", made(step))
    assert (first.made, first.first_read, again.made, again.first_read) == (True, False, False, False)
    assert not again.record.read
    feedback.answer("1:0", {"value": True, "by": "ann", "reason": None})
    reads: list[bool] = []
    barrier = threading.Barrier(12)

    def read() -> None:
        barrier.wait()
        reads.append(feedback.ask(step, "1:0", made(step)).first_read)

    threads = [threading.Thread(target=read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reads) == [False] * 11 + [True]
    assert feedback.record("1:0").read and feedback.record("1:0").status == "answered"


def test_a_request_timing_out_is_first_read_by_the_call_that_times_it_out(stores):
    store, feedback = stores
    step = first_step(store)
    feedback.ask(step, "1:0", made(step, timeout=0.1))
    time.sleep(0.2)
    timed_out = feedback.ask(step, "1:0", made(step, timeout=0.1))
    assert (timed_out.record.status, timed_out.made, timed_out.first_read) == ("timed_out", False, True)
    assert not feedback.ask(step, "1:0", made(step, timeout=0.1)).first_read


def test_waiting_for_an_answer_reads_it_first(stores):
    store, feedback = stores
    step = first_step(store)
    feedback.ask(step, "1:0", made(step))
    answer = {"value": True, "by": "ann", "reason": None}
    answering = threading.Timer(0.1, feedback.answer, args=("1:0", answer))
    answering.start()
    waited = feedback.wait("1:0", lambda: False)
    answering.join()
    assert (waited.record.status, waited.made, waited.first_read) == ("answered", False, True)
    assert not feedback.ask(step, "1:0", made(step)).first_read


def test_no_answer_once_the_run_is_over(stores):
    store, feedback = stores
    step = first_step(store)
    feedback.ask(step, "1:0", made(step))
    store.cancel("stop")
    assert feedback.answer("1:0", {"value": True}).refused == "ended"


def test_a_parked_answer_names_the_step_to_send_again_and_the_indexes_follow(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(5))
    run_id = uuid.uuid4().hex
    store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
    store.initialize("{}", {"name": "t"})
    step = store.create(NewStep("a"))
    feedback = RedisFeedback(client, Scripts(client), run_id, 600, grace=1)
    record = feedback.ask(step, "1:0", made(step, timeout=60)).record
    member = f"{run_id}|1:0"
    assert client.zscore(FEEDBACK_INDEX, member) == record.created
    assert client.zscore(FEEDBACK_DUE, member) == record.deadline + 1000
    assert [r.feedback_id for r in pending_in(client)] == [f"{run_id}:1:0"]
    outcome = feedback.answer("1:0", {"value": False, "by": "ann", "reason": None})
    assert outcome.resend == step  # as the frontier holds it
    assert client.zscore(FEEDBACK_INDEX, member) is None
    # Watched until whoever answered has sent the step: two leases on, a worker's sweep would.
    assert client.zscore(FEEDBACK_DUE, member) == outcome.record.settled + 2000
    assert outcome.sent is not None
    outcome.sent()
    assert client.zscore(FEEDBACK_DUE, member) is None
    assert json.loads(client.hget(RunKeys(run_id).feedback, "1:0|a")) == {"value": False, "by": "ann",
                                                                          "reason": None}


def _running(client: redis.Redis) -> tuple[RedisRunStore, Step]:
    run_id = uuid.uuid4().hex
    store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
    store.initialize("{}", {"name": "t"})
    return store, store.create(NewStep("a"))


def test_a_waiting_request_parks_as_the_step_asking_now_does(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(10))
    store, step = _running(client)
    blocking = RedisFeedback(client, Scripts(client), store.run_id, 600, parks=False, grace=1)
    parking = RedisFeedback(client, Scripts(client), store.run_id, 600, grace=1)
    member = f"{store.run_id}|1:0"
    made_in_process = blocking.ask(step, "1:0", made(step, timeout=60)).record  # e.g. a checkpoint's
    assert not made_in_process.parks and client.zscore(FEEDBACK_DUE, member) is None
    asked_on_celery = parking.ask(step, "1:0", made(step, timeout=60)).record
    assert asked_on_celery.parks and asked_on_celery.created == made_in_process.created
    assert client.zscore(FEEDBACK_DUE, member) == asked_on_celery.deadline + 1000  # its deadline watched
    outcome = parking.answer("1:0", {"value": True, "by": "ann", "reason": None})
    assert outcome.resend == step


def test_the_sweep_script_sends_an_answered_step_until_it_runs_again(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(11))
    store, step = _running(client)
    scripts = Scripts(client)
    feedback = RedisFeedback(client, scripts, store.run_id, 600, grace=1)
    keys = RunKeys(store.run_id)
    member = f"{store.run_id}|1:0"
    feedback.ask(step, "1:0", made(step))  # no deadline: nothing watches it while it waits
    assert client.zscore(FEEDBACK_DUE, member) is None
    assert feedback.due("1:0") == ("waits", None)
    outcome = feedback.answer("1:0", {"value": True, "by": "ann", "reason": None})  # and never sent
    assert feedback.due("1:0") == ("answered", step)
    # A delivery of the step holds its lease (it asked before the answer, say): it runs now.
    scripts.lease_take([keys.meta, keys.frontier, keys.leases], step.id, "w:1", "t1", 60000, 600)
    assert feedback.due("1:0") == ("busy", None)
    scripts.lease_release(keys.leases, step.id, "t1")
    assert feedback.due("1:0") == ("answered", step)
    assert client.zscore(FEEDBACK_DUE, member) == outcome.record.settled + 2000  # still watched
    # The step runs again and reads its answer: nothing left to send; the member goes.
    assert feedback.ask(step, "1:0", made(step)).record.status == "answered"
    assert feedback.due("1:0") == ("settled", None)
    assert client.zscore(FEEDBACK_DUE, member) is None and feedback.record("1:0").answer["by"] == "ann"


def test_a_refused_answer_leaves_the_taken_ones_watch_alone(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(11))
    store, step = _running(client)
    feedback = RedisFeedback(client, Scripts(client), store.run_id, 600, grace=1)
    member = f"{store.run_id}|1:0"
    feedback.ask(step, "1:0", made(step, timeout=60))
    taken = feedback.answer("1:0", {"value": True, "by": "ann", "reason": None})
    late = feedback.answer("1:0", {"value": False, "by": "bob", "reason": None})
    assert taken.refused is None and late.refused == "answered"
    assert client.zscore(FEEDBACK_DUE, member) == taken.record.settled + 2000
    store.cancel("stop")
    assert feedback.due("1:0") == ("ended", None)
    assert client.zscore(FEEDBACK_DUE, member) is None


def test_listing_drops_members_whose_request_no_longer_waits(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(6))
    runs = []
    for _ in range(3):
        run_id = uuid.uuid4().hex
        store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
        store.initialize("{}", {"name": "t"})
        step = store.create(NewStep("a"))
        RedisFeedback(client, Scripts(client), run_id, 600).ask(step, "1:0", made(step))
        runs.append((run_id, store))
    runs[0][1].cancel("gone")  # its run is over
    client.delete(RunKeys(runs[1][0]).feedback)  # its state expired
    client.zadd(FEEDBACK_INDEX, {"not a member": 1, "bad id!|1:0": 2})
    listed = pending_in(client)
    assert [r.run_id for r in listed] == [runs[2][0]]
    assert [m.decode() for m in client.zrange(FEEDBACK_INDEX, 0, -1)] == [f"{runs[2][0]}|1:0"]


def test_requests_travel_in_the_snapshot_and_restore_of_the_state(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(7))
    stores = []
    for _ in range(2):
        run_id = uuid.uuid4().hex
        store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
        store.initialize("{}", {"name": "t"})
        stores.append(store)
    step = stores[0].create(NewStep("a"))
    feedback = RedisFeedback(client, Scripts(client), stores[0].run_id, 600)
    feedback.ask(step, "1:0", made(step))
    feedback.answer("1:0", {"value": True, "by": "ann", "reason": "fine"})
    assert feedback.ask(step, "1:0", made(step)).first_read  # its handler was told
    feedback.ask(step, "1:1", made(step, timeout=30))
    state, _ = stores[0].snapshot()
    assert set(state.feedback) == {"1:0", "1:1"}
    stores[1].restore(state)
    copy = RedisFeedback(client, Scripts(client), stores[1].run_id, 600)
    assert copy.records() == feedback.records()
    assert copy.waiting_steps() == {step.id}
    assert copy.record("1:0").read and not copy.ask(step, "1:0", made(step)).first_read


def test_pruning_goes_round_the_index_dropping_what_no_longer_waits(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(9))
    stores = []
    for _ in range(5):
        run_id = uuid.uuid4().hex
        store = RedisRunStore(client, Scripts(client), run_id, ttl=600, node_codec=GraphCodec())
        store.initialize("{}", {"name": "t"})
        step = store.create(NewStep("a"))
        RedisFeedback(client, Scripts(client), run_id, 600).ask(step, "1:0", made(step))
        stores.append(store)
    client.zadd(FEEDBACK_INDEX, {f"{s.run_id}|1:0": i for i, s in enumerate(stores)}, xx=True)  # in order
    for store in stores[1::2]:
        store.cancel("nobody came")
    assert prune(client, 0, count=2) == 1  # of the first two members, one was stale
    assert prune(client, 1, count=10) == 0  # the end: the next pass starts over
    assert sorted(m.decode() for m in client.zrange(FEEDBACK_INDEX, 0, -1)) == sorted(
        f"{s.run_id}|1:0" for s in stores[0::2])
