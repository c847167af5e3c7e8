"""Workflows for the contract suite. Module level, so Celery workers can import every task.

Tasks record what they did in the run's channel (key "log"): the only observation that works
the same in-process and across worker processes.
"""

from __future__ import annotations

import contextlib
import time
from typing import TypedDict

from pydantic import BaseModel

from graflow_celery import (
    AtLeastNGroupPolicy,
    CriticalGroupPolicy,
    GroupPolicy,
    ParallelGroupError,
    RetryPolicy,
    TaskContext,
    TaskWrapper,
    chain,
    parallel,
    task,
    workflow,
)


def log(ctx: TaskContext, entry: str) -> None:
    ctx.get_channel().append("log", entry)


def make_logger(name: str, result: object = None) -> TaskWrapper:
    def body(ctx: TaskContext) -> object:
        log(ctx, name)
        return result if result is not None else name

    body.__name__ = body.__qualname__ = f"log_{name}"
    globals()[body.__name__] = body  # importable by path, like any module-level function
    return TaskWrapper(name, body, inject_context=True, register=False)


# Made at import time, so a worker that imports this module has every logger function too.
L = {name: make_logger(name) for name in ["a", "b", "c", "d", "e", "after", "sibling", "skipped"]}


# --- pipeline, parameters --------------------------------------------------------------------


@task
def load() -> list[int]:
    return [1, 2, 3]


@task
def double(load: list[int]) -> list[int]:
    return [x * 2 for x in load]


@task
def total(double: list[int], offset: int = 0) -> int:
    return sum(double) + offset


def pipeline():
    with workflow("pipeline") as wf:
        load >> double >> total
    return wf


@task
def greet(name: str, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


def greeting():
    with workflow("greeting") as wf:
        wf.add(greet)
    return wf


def bound_instances():
    with workflow("instances") as wf:
        greet(task_id="greet_ann", name="ann") >> greet(task_id="greet_bob", name="bob", punctuation="?")
    return wf


# --- joins and groups ------------------------------------------------------------------------


def diamond():
    a, b, c, d = (L[n] for n in "abcd")
    with workflow("diamond") as wf:
        a >> b >> d
        a >> c >> d
    return wf


@task
def src() -> int:
    return 3


@task
def left(src: int) -> int:
    return src + 1


@task
def right(src: int) -> int:
    return src * 10


@task
def join(left: int, right: int) -> int:
    return left + right


def group_flow():
    with workflow("group") as wf:
        src >> (left | right) >> join
    return wf


def chains_in_group():
    a, b, c, d, e = (L[n] for n in "abcde")
    with workflow("chains_in_group") as wf:
        a >> ((b >> c) | d) >> e
    return wf


def nested_groups():
    a, b, c, d, e = (L[n] for n in "abcde")
    with workflow("nested") as wf:
        a >> parallel(parallel(b, c, name="inner"), d, name="outer") >> e
    return wf


def chain_helper():
    a, b, c = (L[n] for n in "abc")
    with workflow("chain_helper") as wf:
        chain(a, b, c)
    return wf


# --- dynamic flow ----------------------------------------------------------------------------


@task(inject_context=True)
def extra(ctx: TaskContext) -> str:
    log(ctx, "extra")
    return "extra"


@task(inject_context=True)
def spawner(ctx: TaskContext) -> str:
    log(ctx, "spawner")
    ctx.next_task(extra)
    return "spawned"


def dynamic_task():
    after = L["after"]
    with workflow("dynamic") as wf:
        spawner >> after
    return wf


@task(inject_context=True)
def spawner_goto(ctx: TaskContext) -> str:
    log(ctx, "spawner")
    ctx.next_task(extra, goto=True)
    return "spawned"


def dynamic_goto():
    after = L["after"]
    with workflow("dynamic_goto") as wf:
        spawner_goto >> after
    return wf


@task(inject_context=True)
def jumper(ctx: TaskContext) -> None:
    log(ctx, "jumper")
    ctx.next_task(finish)  # already in the graph: a jump, successors skipped


@task(inject_context=True)
def finish(ctx: TaskContext) -> str:
    log(ctx, "finish")
    return "finished"


def auto_goto():
    skipped = L["skipped"]
    with workflow("auto_goto") as wf:
        jumper >> skipped
        wf.add(finish)
    return wf


@task(inject_context=True)
def jump_by_id(ctx: TaskContext) -> None:
    log(ctx, "jumper")
    # A different object whose id is already in the run's graph: still a jump to that node.
    ctx.next_task(TaskWrapper("finish", other_finish, inject_context=True, register=False))


def other_finish(ctx: TaskContext) -> str:
    log(ctx, "other_finish")
    return "other"


def new_vs_existing_by_id():
    skipped = L["skipped"]
    with workflow("by_id") as wf:
        jump_by_id >> skipped
        wf.add(finish)
    return wf


@task(inject_context=True)
def counter(ctx: TaskContext, n: int = 0) -> int:
    log(ctx, f"counter:{n}:{ctx.cycle_count}")
    if n < 3:
        ctx.next_iteration(n + 1)
    return n


def iteration():
    after = L["after"]
    with workflow("iteration") as wf:
        counter >> after
    return wf


@task(inject_context=True, max_cycles=2)
def greedy(ctx: TaskContext, n: int = 0) -> int:
    ctx.next_iteration(n + 1)
    return n


def cycle_limit():
    with workflow("cycle_limit") as wf:
        wf.add(greedy)
    return wf


@task(inject_context=True)
def checks_can_iterate(ctx: TaskContext, n: int = 0) -> int:
    if ctx.can_iterate():
        ctx.next_iteration(n + 1)
    return n


def can_iterate_flow():
    with workflow("can_iterate") as wf:
        wf.add(TaskWrapper("looper", checks_can_iterate.func, inject_context=True,
                                      max_cycles=4, register=False))
    return wf


# --- control priority -------------------------------------------------------------------------


@task(inject_context=True)
def cancel_all(ctx: TaskContext) -> None:
    log(ctx, "cancel_all")
    ctx.next_task(extra, goto=True)
    ctx.terminate_workflow("terminate too")
    ctx.cancel_workflow("stop everything")


@task(inject_context=True)
def terminate_and_goto(ctx: TaskContext) -> str:
    log(ctx, "terminate_and_goto")
    ctx.next_task(extra, goto=True)
    ctx.terminate_workflow("done early")
    return "terminated"


@task(inject_context=True)
def cancel_caught(ctx: TaskContext) -> str:
    with contextlib.suppress(Exception):  # swallowing it is the point of the test
        ctx.cancel_workflow("caught but still cancelled")
    return "ignored"


def control(first: TaskWrapper):
    after = L["after"]
    with workflow("control") as wf:
        first >> after
    return wf


@task(inject_context=True)
def member_terminates(ctx: TaskContext) -> str:
    log(ctx, "member_terminates")
    ctx.terminate_workflow("member ends it")
    return "terminated by member"


@task(inject_context=True)
def member_cancels(ctx: TaskContext) -> None:
    log(ctx, "member_cancels")
    ctx.cancel_workflow("member cancels")


def group_control(member: TaskWrapper):
    after = L["after"]
    with workflow("group_control") as wf:
        (member | L["sibling"]) >> after
    return wf


@task(inject_context=True)
def forever(ctx: TaskContext) -> None:
    ctx.next_task(forever)


def endless():
    with workflow("endless") as wf:
        wf.add(forever)
    return wf


# --- channels shared by parallel members -------------------------------------------------------


@task(inject_context=True)
def hammer(ctx: TaskContext, times: int = 25) -> None:
    channel = ctx.get_channel()
    for i in range(times):
        channel.atomic_add("counter", 1)
        channel.append("items", f"{ctx.task_id}:{i}")


def hammering(width: int = 8):
    with workflow("hammering") as wf:
        parallel(*(hammer(task_id=f"hammer_{i}") for i in range(width)), name="hammers")
    return wf


@task(inject_context=True)
def rendezvous(ctx: TaskContext, me: str, other: str) -> str:
    """Each member waits (bounded) until the other has started: passes only if they overlap."""
    channel = ctx.get_channel()
    channel.set(f"started:{me}", True)
    deadline = time.monotonic() + 10
    while not channel.exists(f"started:{other}"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{me} never saw {other} running at the same time")
        time.sleep(0.01)
    return me


def overlapping():
    with workflow("overlap") as wf:
        rendezvous(task_id="r1", me="r1", other="r2") | rendezvous(task_id="r2", me="r2", other="r1")
    return wf


def fifo_order():
    a, b, c, d, e = (L[n] for n in "abcde")
    with workflow("fifo") as wf:
        a >> (b | c) >> e
        wf.add(d)
        a >> d
    return wf


# --- policies and failures --------------------------------------------------------------------


@task
def ok_task() -> str:
    return "ok"


@task
def bad_task() -> str:
    raise ValueError("bad input")


@task
def worse_task() -> str:
    raise KeyError("missing")


def policy_flow(policy, members=None):
    after = L["after"]
    members = members or [ok_task, bad_task, worse_task]
    with workflow("policies") as wf:
        parallel(*members, name="grp").with_execution(policy=policy) >> after
    return wf


class OnlyOkMustSucceed(GroupPolicy):
    name = "only_ok"

    def on_group_finished(self, group_id, outcomes):
        if not any(o.task_id == "ok_task" and o.success for o in outcomes):
            raise self.fail(group_id, outcomes, "ok_task did not succeed")


def at_least(n: int):
    return policy_flow(AtLeastNGroupPolicy(n))


def critical(ids: list[str]):
    return policy_flow(CriticalGroupPolicy(ids))


@task(inject_context=True, max_retries=2)
def flaky(ctx: TaskContext) -> str:
    attempt = ctx.get_channel().atomic_add("attempts", 1)
    ctx.get_channel().append("retry_counts", ctx.retry_count)
    if attempt < 3:
        raise ConnectionError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


@task(inject_context=True, retry_policy=RetryPolicy(max_retries=2, initial_interval=0.05, backoff_factor=2))
def hopeless(ctx: TaskContext) -> str:
    ctx.get_channel().atomic_add("attempts", 1)
    raise ConnectionError("still down")


def single(t: TaskWrapper):
    with workflow("single") as wf:
        wf.add(t)
    return wf


@task
def unserializable() -> object:
    return object()


@task
def rich_values() -> dict:
    import datetime as dt
    import uuid
    from decimal import Decimal

    return {
        "when": dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC),
        "amount": Decimal("12.50"),
        "id": uuid.UUID(int=7),
        "pair": (1, "x"),
        "tags": {"a"},
        "raw": b"\x00\x01",
        1: "int key",
    }


class Receipt(BaseModel):  # registered because the tasks below name it in their signatures
    order_id: int
    lines: list[str]


@task
def make_receipt() -> Receipt:
    return Receipt(order_id=7, lines=["book"])


@task
def read_receipt(make_receipt: Receipt | None) -> list[Receipt]:
    assert isinstance(make_receipt, Receipt)
    return [make_receipt, Receipt(order_id=8, lines=[])]


def receipts():
    with workflow("receipts") as wf:
        make_receipt >> read_receipt
    return wf


# --- typed channels ---------------------------------------------------------------------------


class Order(TypedDict):
    id: int
    item: str


class Invoice(BaseModel):
    order_id: int
    amount: float


class Shipment(TypedDict):  # a model nested in a TypedDict: the typed channel registers it
    invoice: Invoice
    to: str


@task(inject_context=True)
def typed_producer(ctx: TaskContext) -> None:
    ctx.get_typed_channel(Order).send("order", {"id": 1, "item": "book"})
    invoice = Invoice(order_id=1, amount=9.5)
    ctx.get_typed_channel(Invoice).send("invoice", invoice)
    ctx.get_typed_channel(Shipment).send("shipment", {"invoice": invoice, "to": "ann"})


@task(inject_context=True)
def typed_consumer(ctx: TaskContext) -> dict:
    order = ctx.get_typed_channel(Order).receive("order")
    invoice = ctx.get_typed_channel(Invoice).receive("invoice")
    shipment = ctx.get_typed_channel(Shipment).receive("shipment")
    assert isinstance(invoice, Invoice) and shipment is not None and isinstance(shipment["invoice"], Invoice)
    return {"order": order, "amount": invoice.amount, "to": shipment["to"]}


@task(inject_context=True)
def typed_bad(ctx: TaskContext) -> None:
    ctx.get_typed_channel(Order).send("order", {"id": "not a number", "item": 3})


def typed_flow():
    with workflow("typed") as wf:
        typed_producer >> typed_consumer
    return wf


@task(inject_context=True)
def channel_ops(ctx: TaskContext) -> dict:
    ch = ctx.get_channel()
    ch.set("k", {"v": 1})
    ch.set("gone", 1)
    existed = ch.delete("gone")
    ch.append("lst", 2)
    ch.prepend("lst", 1)
    n = ch.append("lst", 3)
    with ch.lock("critical", timeout=5):
        ch.atomic_add("num", 2.5)
    ch.set("short", "lived", ttl=1)
    out = {
        "k": ch.get("k"),
        "missing": ch.get("missing", "dflt"),
        "existed": existed,
        "exists_gone": ch.exists("gone"),
        "lst": ch.get("lst"),
        "n": n,
        "num": ch.get("num"),
        "keys": sorted(ch.keys()),
        "short_now": ch.get("short"),
    }
    time.sleep(1.2)
    out["short_later"] = ch.get("short")
    return out


@task(inject_context=True)
def results_reader(ctx: TaskContext) -> dict:
    return {"load": ctx.get_result("load"), "nothing": ctx.get_result("nope", "default")}


def reader_flow():
    with workflow("reader") as wf:
        load >> results_reader
    return wf


__all__ = ["ParallelGroupError", "chain"]


@task(inject_context=True)
def add_to_text(ctx: TaskContext) -> None:
    ctx.get_channel().set("label", "not a number")
    ctx.get_channel().atomic_add("label", 1)


def dyn_member(ctx: TaskContext, n: int) -> int:
    log(ctx, f"member:{n}")
    return n * n


@task(inject_context=True)
def spawn_group(ctx: TaskContext) -> str:
    members = [TaskWrapper(f"sq_{n}", dyn_member, inject_context=True, bound_kwargs={"n": n}) for n in (2, 3)]
    ctx.next_task(parallel(*members, name="squares"))
    return "spawned"


def dynamic_group():
    with workflow("dynamic_group") as wf:
        wf.add(spawn_group)
    return wf


# --- review regressions ------------------------------------------------------------------------


@task(inject_context=True)
def wave_src(ctx: TaskContext) -> int:
    return int(ctx.get_channel().atomic_add("wave", 1))


@task(inject_context=True)
def wave_slow(ctx: TaskContext, wave_src: int) -> str:
    if wave_src == 2:
        time.sleep(0.3)  # in wave 2 the other branch finishes first
    log(ctx, f"slow@{wave_src}")
    return f"slow@{wave_src}"


@task(inject_context=True)
def wave_fast(ctx: TaskContext, wave_src: int) -> str:
    log(ctx, f"fast@{wave_src}")
    if wave_src == 1:
        ctx.next_task(wave_src_task, goto=True)  # wave 1 is cut short: the join must not fire
    return f"fast@{wave_src}"


wave_src_task = wave_src


@task(inject_context=True)
def wave_join(ctx: TaskContext, wave_slow: str, wave_fast: str) -> list:
    log(ctx, f"join:{wave_slow}+{wave_fast}")
    return [wave_slow, wave_fast]


def goto_loop_with_join():
    with workflow("goto_loop_join") as wf:
        wave_src >> wave_slow >> wave_join
        wave_src >> wave_fast >> wave_join
    return wf


@task(inject_context=True)
def spawn_anonymous_group(ctx: TaskContext) -> None:
    # an unnamed group made at run time must not be mistaken for the workflow's own ParallelGroup_1
    ctx.next_task(TaskWrapper("x1", dyn_member, inject_context=True, bound_kwargs={"n": 5})
                  | TaskWrapper("x2", dyn_member, inject_context=True, bound_kwargs={"n": 6}))


def anonymous_groups():
    a, b = L["a"], L["b"]
    with workflow("anonymous_groups") as wf:
        (a | b) >> spawn_anonymous_group
    return wf


@task(inject_context=True)
def stopper(ctx: TaskContext) -> str:
    ctx.terminate_workflow("enough")
    return "stopper result"


@task
def straggler() -> str:
    time.sleep(0.4)
    return "straggler result"


def terminate_with_straggler():
    with workflow("straggler") as wf:
        parallel(stopper, straggler, name="race")
    return wf


class BrokenPolicy(GroupPolicy):
    name = "broken"

    def on_group_finished(self, group_id, outcomes):
        raise RuntimeError("policy bug")


@task(inject_context=True)
def iterate_with_bad_data(ctx: TaskContext, data: object = None) -> None:
    if data is None:
        ctx.next_iteration(object())


@task(inject_context=True)
def router(ctx: TaskContext) -> str:
    log(ctx, "router")
    ctx.next_task(L["b"], goto=True)  # pick branch b; c is skipped
    return "routed"


@task(inject_context=True)
def joined(ctx: TaskContext, b: str, x_side: str) -> str:
    log(ctx, "joined")
    return f"{b}+{x_side}"


@task(inject_context=True)
def x_side(ctx: TaskContext) -> str:
    log(ctx, "x_side")
    return "x"


def router_picks_a_branch():
    b, c = L["b"], L["c"]
    with workflow("router") as wf:
        start = L["a"]
        start >> router >> b >> joined
        router >> c
        start >> x_side >> joined
    return wf


# --- error texts ------------------------------------------------------------------------------

SECRET_URL = "redis://:s3cret-pw@db.example:6379/0"
MASKED_URL = "redis://:**@db.example:6379/0"


@task
def leaks_a_password() -> None:
    raise ValueError(f"cannot reach {SECRET_URL}")


class Unprintable(ValueError):
    def __str__(self) -> str:
        raise RuntimeError("this __str__ raises")


@task
def raises_unprintable() -> None:
    raise Unprintable("hidden")


class Connection:  # a plain object: tagged JSON cannot carry it to a worker
    pass


@task(inject_context=True)
def spawns_with_a_connection(ctx: TaskContext) -> None:
    ctx.next_task(TaskWrapper("uses_connection", greet, bound_kwargs={"name": Connection()}))


def bound_object_at_run_time():
    with workflow("bound_object_at_run_time") as wf:
        wf.add(spawns_with_a_connection)
    return wf


# --- checkpoints and resume ------------------------------------------------------------------


@task(inject_context=True)
def cp_first(ctx: TaskContext) -> int:
    log(ctx, "first")
    return 1


@task(inject_context=True)
def cp_mark(ctx: TaskContext, cp_first: int) -> int:
    """Asks for a (deferred) checkpoint: taken after this task, before cp_last runs."""
    log(ctx, "mark")
    ctx.checkpoint({"note": "after mark"}, path=ctx.get_channel().get("checkpoint_path"))
    return cp_first + 1


@task(inject_context=True)
def cp_now(ctx: TaskContext, cp_first: int) -> int:
    """An immediate checkpoint: a resumed run runs this task again."""
    log(ctx, "now")
    path, metadata = ctx.checkpoint(path=ctx.get_channel().get("checkpoint_path"), deferred=False)
    ctx.get_channel().set("immediate", {"path": path, "task_id": metadata.user_metadata["task_id"]})
    return cp_first + 1


@task(inject_context=True)
def cp_last(ctx: TaskContext, cp_mark: int | None = None, cp_now: int | None = None) -> int:
    log(ctx, "last")
    return (cp_mark or cp_now or 0) * 10


def checkpointed(immediate: bool = False):
    with workflow("checkpointed_now" if immediate else "checkpointed") as wf:
        cp_first >> (cp_now if immediate else cp_mark) >> cp_last
    return wf


@task(inject_context=True)
def cp_fragile(ctx: TaskContext) -> str:
    """Fails until the channel says the code was fixed."""
    log(ctx, "fragile")
    if not ctx.get_channel().get("fixed"):
        raise ValueError("not fixed yet")
    return "mended"


@task(inject_context=True)
def cp_sturdy(ctx: TaskContext) -> str:
    log(ctx, "sturdy")
    return "sturdy"


@task(inject_context=True)
def cp_after(ctx: TaskContext, pair: dict) -> dict:
    log(ctx, "after")
    return pair


def fails_in_a_group():
    """cp_first >> (cp_fragile | cp_sturdy) >> cp_after: the strict group fails until fixed."""
    with workflow("fails_in_a_group") as wf:
        cp_first >> parallel(cp_fragile, cp_sturdy, name="pair") >> cp_after
    return wf


def fails_in_a_chain():
    with workflow("fails_in_a_chain") as wf:
        cp_first >> cp_fragile >> cp_sturdy
    return wf


def lifecycle():
    """flaky (two retries) >> best-effort group with one failing member >> after."""
    with workflow("lifecycle") as wf:
        flaky >> parallel(ok_task, bad_task, name="grp").with_execution(policy="best_effort") >> L["after"]
    return wf
