"""Workflows of the task-handler contract tests (imported by the test workers too, where the
``tagging`` handler is registered by importing this module, as a user's tasks module would)."""

from __future__ import annotations

import datetime
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from graflow_celery import (
    ExecutionContext,
    TaskCall,
    TaskContext,
    TaskHandler,
    parallel,
    register_handler,
    task,
    workflow,
)

# Module state a task changes: a task that runs in a fresh process always finds it empty.
LEAKED: list[int] = []


def leak() -> int:
    LEAKED.append(os.getpid())
    return len(LEAKED)


# --- where the body runs ------------------------------------------------------------------------------

@task
def here() -> int:
    return os.getpid()


@task(handler="process")
def isolated_a(here: int) -> dict[str, int]:
    return {"pid": os.getpid(), "leaked": leak()}


@task(handler="process", inject_context=True)
def isolated_loop(ctx: TaskContext, data: Any = None) -> list[dict[str, int]]:
    runs = [*(data or []), {"pid": os.getpid(), "leaked": leak()}]
    if len(runs) < 3:
        ctx.next_iteration(runs)
    return runs


def fresh_processes():
    with workflow("handler_fresh_processes") as wf:
        here >> isolated_a >> isolated_loop
    return wf


# --- values in and out ----------------------------------------------------------------------------------

@task
def produce() -> dict[str, Any]:
    return {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "pair": (1, "a"), "tags": {"x", "y"},
            "amount": Decimal("1.10")}


@task(handler="process")
def consume(produce: dict[str, Any], factor: int, note: str) -> dict[str, Any]:
    return {"types": sorted(type(v).__name__ for v in produce.values()), "factor": factor * 2,
            "note": note.upper(), "pair": produce["pair"], "tags": produce["tags"]}


def values():
    with workflow("handler_values") as wf:
        produce >> consume(task_id="consume", factor=21)
    return wf


# --- the channel and the context from the task's process --------------------------------------------------

@task(handler="process", inject_context=True)
def counter(ctx: TaskContext) -> int:
    channel = ctx.get_channel()
    for _ in range(10):
        with channel.lock("counter"):  # read-modify-write: only a lock held across processes keeps it
            channel.set("counter", channel.get("counter", 0) + 1)
    channel.append("members", ctx.task_id)
    return int(channel.atomic_add("adds", 1))


@task(handler="process", inject_context=True)
def reader(ctx: TaskContext) -> dict[str, Any]:
    channel = ctx.get_channel()
    return {"counter": channel.get("counter"), "members": sorted(channel.get("members")),
            "exists": channel.exists("counter"), "missing": channel.get("nope", "default"),
            "group": ctx.get_result("counters"), "run_id": ctx.run_id, "task_id": ctx.task_id}


def channel_use():
    with workflow("handler_channel") as wf:
        members = [counter(task_id=f"c{i}") for i in (1, 2, 3)]
        parallel(*members, name="counters") >> reader
    return wf


# --- flow control from the task's process ----------------------------------------------------------------

@task(inject_context=True)
def spawned(ctx: TaskContext) -> str:
    ctx.get_channel().append("log", "spawned")
    return "spawned"


@task(handler="process", inject_context=True)
def spawner(ctx: TaskContext) -> str:
    ctx.get_channel().append("log", "spawner")
    ctx.next_task(spawned)
    return "spawner"


@task(inject_context=True)
def after_spawner(ctx: TaskContext) -> str:
    ctx.get_channel().append("log", "after")
    return "after"


def dynamic():
    with workflow("handler_dynamic") as wf:
        spawner >> after_spawner
    return wf


@task(handler="process", inject_context=True)
def stopper(ctx: TaskContext) -> str:
    ctx.terminate_workflow("enough")
    return "stopped"


@task
def never() -> str:
    return "never"


def terminating():
    with workflow("handler_terminate") as wf:
        stopper >> never
    return wf


@task(handler="process", inject_context=True)
def canceller(ctx: TaskContext) -> None:
    ctx.cancel_workflow("from its own process")


def cancelling():
    with workflow("handler_cancel") as wf:
        canceller >> never
    return wf


# --- failures ----------------------------------------------------------------------------------------------

class QuotaError(Exception):
    def __init__(self, user: str, limit: int) -> None:
        super().__init__(f"{user} is over the quota of {limit}")
        self.user = user
        self.limit = limit


@task(handler="process")
def over_quota() -> None:
    raise QuotaError("ada", 3)  # the line the traceback must show


def raising():
    with workflow("handler_raising") as wf:
        wf.add(over_quota)
    return wf


@task(handler="process")
def unsendable() -> threading.Lock:
    return threading.Lock()


def unsendable_result():
    with workflow("handler_unsendable") as wf:
        wf.add(unsendable)
    return wf


def _wait_to_be_killed(pid_dir: str, attempt: int) -> None:
    """Leave this process's pid where the test finds it, then wait for the test's SIGKILL."""
    pid_file = Path(pid_dir, f"attempt-{attempt}.pid")
    pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
    pid_file.with_suffix(".tmp").rename(pid_file)
    time.sleep(120)


@task(handler="process", inject_context=True, max_retries=1)
def victim(ctx: TaskContext, pid_dir: str) -> dict[str, int]:
    if ctx.retry_count == 0:
        _wait_to_be_killed(pid_dir, 0)
    return {"attempt": ctx.retry_count, "pid": os.getpid()}


def killed_then_retried():
    with workflow("handler_killed_retried") as wf:
        wf.add(victim)
    return wf


@task(handler="process", inject_context=True)
def doomed(ctx: TaskContext, pid_dir: str) -> None:
    _wait_to_be_killed(pid_dir, ctx.retry_count)


def killed():
    with workflow("handler_killed") as wf:
        wf.add(doomed)
    return wf


@task(handler="process")
def quitter() -> None:
    os._exit(3)


def exiting():
    with workflow("handler_exiting") as wf:
        wf.add(quitter)
    return wf


# --- a handler of the user's own, registered by name where the tasks are defined ---------------------------

class TaggingHandler(TaskHandler):
    """Written as a graflow handler is: runs the task here, sets its result on the context."""

    def get_name(self) -> str:
        return "tagging"

    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        value = task.run()
        context.set_result(task.task_id, {"value": value, "handler": self.get_name(), "pid": os.getpid(),
                                          "attempt": task.step.attempt})
        return value


register_handler("tagging", TaggingHandler())


@task(handler="tagging")
def tagged() -> int:
    return 42


@task
def after_tagged(tagged: dict[str, Any]) -> dict[str, Any]:
    return tagged


def user_handler():
    with workflow("handler_user") as wf:
        tagged >> after_tagged
    return wf


@task(handler="no_such_handler")
def orphan() -> int:
    return 1


def unknown_handler():
    with workflow("handler_unknown") as wf:
        wf.add(orphan)
    return wf
