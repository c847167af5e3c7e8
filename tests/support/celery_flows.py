"""Workflows used only by the Celery-specific tests (imported by the test workers)."""

from __future__ import annotations

import os
import time

from graflow_celery import (
    GroupPolicy,
    RetryPolicy,
    TaskContext,
    TaskWrapper,
    chain,
    from_celery,
    parallel,
    task,
    workflow,
)
from tests.support.app_tasks import add, explode, slow_add


def worker_name() -> str:
    return os.environ.get("GRAFLOW_WORKER_NAME", "local")


@task
def where() -> str:
    return worker_name()


@task(queue="special")
def where_special() -> str:
    return worker_name()


def routing():
    with workflow("routing") as wf:
        where >> where_special
    return wf


@task
def numbers() -> dict:
    return {"x": 2, "y": 40}


@task
def after_add(add: int) -> int:
    return add + 1


@task
def x() -> int:
    return 2


@task
def y() -> int:
    return 40


def celery_step():
    with workflow("celery_step") as wf:
        x >> y >> from_celery(add) >> after_add
    return wf


def celery_step_failing():
    with workflow("celery_step_failing") as wf:
        x >> from_celery(explode) >> after_add
    return wf


@task
def echo(value: int) -> int:
    return value


def echo_flow():
    with workflow("echo") as wf:
        wf.add(echo)
    return wf


@task
def leaf(i: int) -> int:
    return i


@task
def count_members(wide: dict) -> int:
    return len(wide)


def wide_group(width: int = 1000):
    with workflow(f"wide_{width}") as wf:
        parallel(*(leaf(task_id=f"leaf_{i}", i=i) for i in range(width)), name="wide") >> count_members
    return wf


@task
def step_n(i: int, previous: int = 0) -> int:
    return i


def long_chain(length: int = 1000):
    with workflow(f"chain_{length}") as wf:
        nodes = [step_n(task_id=f"s{i}", i=i) for i in range(length)]
        chain(*nodes)
    return wf


@task(inject_context=True)
def slow(ctx: TaskContext) -> str:
    """Announces where it runs, then works long enough to be killed in the middle."""
    channel = ctx.get_channel()
    channel.append("slow_runs", {"worker": worker_name(), "pid": os.getpid(), "ppid": os.getppid()})
    time.sleep(float(os.environ.get("GRAFLOW_SLOW_SECONDS", "4")))
    return "slow done"


@task(inject_context=True)
def mark(ctx: TaskContext, name: str) -> str:
    ctx.get_channel().append("marks", name)
    return name


KILLABLE_STEPS = 7  # before, slow, the group, m1, m2, the group's judge, after


def killable():
    with workflow("killable") as wf:
        mark(task_id="before", name="before") >> slow >> parallel(
            mark(task_id="m1", name="m1"), mark(task_id="m2", name="m2"), name="fan") >> mark(
            task_id="after", name="after")
    return wf


@task(inject_context=True)
def nap(ctx: TaskContext, name: str) -> str:
    """Marks that it started, then holds its worker process for a while."""
    ctx.get_channel().append("marks", name)
    time.sleep(float(os.environ.get("GRAFLOW_NAP_SECONDS", "1")))
    return name


def wide_naps(width: int):
    """before >> a group of ``width`` naps n0..n<width-1> >> after: wider than the workers' pool,
    so that most naps wait in the queue while the first ones run."""
    with workflow(f"wide_naps_{width}") as wf:
        mark(task_id="before", name="before") >> parallel(
            *(nap(task_id=f"n{i}", name=f"n{i}") for i in range(width)), name="naps") >> mark(
            task_id="after", name="after")
    return wf


def not_importable():
    def inner() -> int:  # a closure: no worker can import it
        return 1

    with workflow("not_importable") as wf:
        TaskWrapper("inner", inner) >> TaskWrapper("lam", lambda: 2)
    return wf


class Quorum(GroupPolicy):
    """Takes an argument but does not say how to rebuild itself (no to_config)."""

    name = "quorum"

    def __init__(self, k: int) -> None:
        self.k = k

    def on_group_finished(self, group_id, outcomes):
        return None


def quorum_flow():
    with workflow("quorum") as wf:
        parallel(x, y, name="xy").with_execution(policy=Quorum(1))
    return wf


@task(inject_context=True)
def spawns_lambda(ctx: TaskContext) -> None:
    ctx.next_task(TaskWrapper("anonymous", lambda: 1))


def lambda_at_run_time():
    with workflow("lambda_at_run_time") as wf:
        wf.add(spawns_lambda)
    return wf


@task(inject_context=True)
def gate(ctx: TaskContext) -> str:
    """Holds the run until the test sets the channel key "open", so that messages reach a run that
    is certainly running, with a known frontier."""
    channel = ctx.get_channel()
    channel.set("gate_waiting", True)
    deadline = time.monotonic() + 60
    while not channel.get("open"):
        if time.monotonic() > deadline:
            raise TimeoutError("the gate was never opened")
        time.sleep(0.05)
    return "opened"


GATED_STEPS = 7  # gate, the group, x, y, the group's judge, slow_add, after_add


def gated():
    """gate >> (x | y) >> slow_add (an existing Celery task: a hand-off) >> after_add == 43."""
    with workflow("gated") as wf:
        gate >> parallel(x, y, name="xy") >> from_celery(slow_add, "add") >> after_add
    return wf


@task(inject_context=True, retry_policy=RetryPolicy(max_retries=2, initial_interval=1.5))
def wobble(ctx: TaskContext) -> str:
    """Fails its first attempt, so that its run waits on a retry without holding a worker."""
    if ctx.retry_count == 0:
        raise ConnectionError("first attempt fails")
    return "steady"


@task
def sum_xy(xy: dict) -> int:
    return xy["x"] + xy["y"]


WOBBLY_STEPS = 6  # wobble (applied once, after its retry), the group, x, y, the judge, sum_xy


def wobbly():
    """wobble (retried once) >> (x | y) >> sum_xy == 42."""
    with workflow("wobbly") as wf:
        wobble >> parallel(x, y, name="xy") >> sum_xy
    return wf


AWKWARD_KEYS = ["z}:meta", "{x}", "}{", ":", "a b", "ch:x", "{", "ünï"]


@task(inject_context=True)
def awkward_keys(ctx: TaskContext) -> dict:
    """Channel keys that look like other keys or hash tags: each stays in the run's own slot."""
    channel = ctx.get_channel()
    for i, key in enumerate(AWKWARD_KEYS):
        channel.set(key, i)
    channel.append("{list}", 1)
    channel.atomic_add("{n}:meta", 2)
    with channel.lock("{lock}:x", timeout=5):
        pass
    return {key: channel.get(key) for key in AWKWARD_KEYS}


def awkward_keys_flow():
    with workflow("awkward_keys") as wf:
        wf.add(awkward_keys)
    return wf


@task
def pause() -> str:
    """Works for a while without touching Redis: its only write is its transition."""
    time.sleep(float(os.environ.get("GRAFLOW_PAUSE_SECONDS", "2")))
    return "paused"


def paused():
    with workflow("paused") as wf:
        mark(task_id="before", name="before") >> pause >> mark(task_id="after", name="after")
    return wf


@task
def where_routed() -> str:
    return worker_name()


def routed_by_name():
    """where_routed names no queue: task_routes sends "routed_by_name.where_*" to "special"."""
    with workflow("routed_by_name") as wf:
        where >> where_routed
    return wf


@task(time_limit=1)
def overruns() -> str:
    time.sleep(5)
    return "never"


@task(soft_time_limit=0.5, time_limit=10, max_retries=1)
def overruns_softly(ctx_free: int = 0) -> str:
    time.sleep(3)
    return "never"


def options_flow(t):
    with workflow(f"options_{t.task_id}") as wf:
        wf.add(t)
    return wf


@task(inject_context=True)
def held_spawn(ctx: TaskContext) -> str:
    """Added at run time by ``spawner``; holds the run until the test sets "release"."""
    channel = ctx.get_channel()
    channel.set("spawned_waiting", True)
    deadline = time.monotonic() + 60
    while not channel.get("release"):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    return "released"


@task(inject_context=True)
def spawner(ctx: TaskContext) -> None:
    ctx.next_task(held_spawn)


@task
def after_spawn() -> str:
    return "after"


def spawning():
    """spawner adds held_spawn at run time; after_spawn follows spawner."""
    with workflow("spawning") as wf:
        spawner >> after_spawn
    return wf
