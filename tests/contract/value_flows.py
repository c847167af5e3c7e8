"""Workflows whose values are Python objects tagged JSON cannot carry (module level, so Celery
workers can import every task): in process they pass as they are; a portable run refuses them,
naming the task and the value's type."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from graflow_celery import TaskContext, TaskWrapper, task, workflow


class Gadget:  # a plain class: pickle carries it, tagged JSON does not
    def __init__(self, n: int) -> None:
        self.n = n


def _numbers() -> Iterator[int]:
    yield from range(10)


@task(inject_context=True)
def make_things(ctx: TaskContext) -> dict[str, Any]:
    """A custom class, a lambda, a lock and a generator: as result, channel value, bound argument
    of a task added at run time, and next_iteration data."""
    things = {"gadget": Gadget(7), "square": lambda x: x * x, "lock": threading.Lock(),
              "numbers": _numbers()}
    ctx.get_channel().set("things", things)
    ctx.get_channel().append("gadgets", things["gadget"])
    ctx.next_task(TaskWrapper("use_bound", use_bound, inject_context=True, bound_kwargs={"things": things}))
    return things


def use_bound(ctx: TaskContext, things: dict[str, Any]) -> bool:
    return things is ctx.get_channel().get("things")


@task(inject_context=True)
def use_things(ctx: TaskContext, make_things: dict[str, Any]) -> dict[str, Any]:
    channel = ctx.get_channel()
    with make_things["lock"]:
        seen = {
            "same_result": make_things is ctx.get_result("make_things"),
            "same_in_channel": make_things is channel.get("things"),
            "same_in_list": channel.get("gadgets")[0] is make_things["gadget"],
            "square": make_things["square"](make_things["gadget"].n),
            "next_number": next(make_things["numbers"]),
        }
    return seen


@task(inject_context=True)
def count_down(ctx: TaskContext, numbers: Iterator[int] | None = None) -> int:
    """Iterates with a generator as its data: each iteration takes the next number."""
    numbers = numbers if numbers is not None else _numbers()
    taken = next(numbers)
    if taken < 3:
        ctx.next_iteration(numbers)
    return taken


def python_objects():
    with workflow("python_objects") as wf:
        make_things >> use_things
    return wf


def iterating_with_a_generator():
    with workflow("iterating_with_a_generator") as wf:
        wf.add(count_down)
    return wf


# --- aliasing ------------------------------------------------------------------------------------


@task
def make_list() -> list[int]:
    return [1]


@task
def mutate_list(make_list: list[int]) -> int:
    make_list.append(2)  # in process this changes the result itself, as in graflow
    return len(make_list)


@task(inject_context=True)
def read_list(ctx: TaskContext, mutate_list: int) -> list[int]:
    return list(ctx.get_result("make_list"))


def mutated_result():
    with workflow("mutated_result") as wf:
        make_list >> mutate_list >> read_list
    return wf


# --- a value only the channel holds ----------------------------------------------------------------


@task(inject_context=True)
def stash_a_gadget(ctx: TaskContext) -> str:
    ctx.get_channel().set("gadget", Gadget(3))
    return "stashed"


def gadget_in_the_channel():
    with workflow("gadget_in_the_channel") as wf:
        wf.add(stash_a_gadget)
    return wf


# --- checkpoints of Python objects ---------------------------------------------------------------


@task
def make_gadget() -> Gadget:
    return Gadget(40)


@task(inject_context=True)
def checkpoint_gadget(ctx: TaskContext, make_gadget: Gadget) -> dict[str, Any]:
    ctx.get_channel().set("gadget", make_gadget)
    ctx.get_channel().set("plain", {"n": make_gadget.n})
    ctx.checkpoint({"note": "holds a gadget"}, path=ctx.get_channel().get("checkpoint_path"))
    return {"gadget": make_gadget, "n": make_gadget.n}


@task(inject_context=True)
def add_to_gadget(ctx: TaskContext, checkpoint_gadget: dict[str, Any]) -> int:
    stashed = ctx.get_channel().get("gadget")
    return int(checkpoint_gadget["gadget"].n + stashed.n - 38)


def checkpointed_gadget():
    with workflow("checkpointed_gadget") as wf:
        make_gadget >> checkpoint_gadget >> add_to_gadget
    return wf


@task
def make_lock() -> Any:
    return threading.Lock()


def holds_a_lock():
    with workflow("holds_a_lock") as wf:
        wf.add(make_lock)
    return wf
