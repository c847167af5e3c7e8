"""Workflows written the way graflow's documentation writes them, for test_graflow_semantics.py.

Module level, so that Celery workers import them by path. Only the imports differ from graflow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from graflow_celery import (
    CoordinationBackend,
    CycleLimitExceededError,
    GroupExecutionPolicy,
    ParallelGroupError,
    TaskExecutionContext,
    parallel,
    task,
    workflow,
)

# --- loops ----------------------------------------------------------------------------------------


@task(inject_context=True)
def optimize(ctx: TaskExecutionContext) -> int:
    """No parameter for iteration data: next_iteration() passes none."""
    runs = ctx.get_channel().atomic_add("runs", 1)
    if runs < 3:
        ctx.next_iteration()
    return runs


def no_data_loop():
    with workflow("no_data_loop") as wf:
        wf.add(optimize)
    return wf


@task(inject_context=True, max_cycles=3)
def three_at_most(ctx: TaskExecutionContext, data: int = 0) -> int:
    ctx.get_channel().append("seen", [ctx.cycle_count, ctx.max_cycles, ctx.can_iterate(), data])
    if ctx.can_iterate():
        ctx.next_iteration(data + 1)
    return data


@task(inject_context=True)
def default_limit(ctx: TaskExecutionContext) -> int:
    ctx.get_channel().append("counts", ctx.cycle_count)
    if ctx.can_iterate():
        ctx.next_iteration()
    return ctx.cycle_count


@task(inject_context=True, max_cycles=2)
def insists(ctx: TaskExecutionContext) -> None:
    ctx.get_channel().append("counts", ctx.cycle_count)
    ctx.next_iteration()  # no can_iterate(): the second run asks for a third


@task(inject_context=True, max_cycles=2)
def catches_the_limit(ctx: TaskExecutionContext) -> str:
    try:
        ctx.next_iteration()
    except CycleLimitExceededError as exc:
        return f"stopped at {exc.cycle_count}/{exc.max_cycles}"
    return "iterating"


@task(inject_context=True, max_cycles=4)
def agent(ctx: TaskExecutionContext) -> int:
    """graflow's jump loop: the budget is the agent's runs, however it was re-entered."""
    ctx.get_channel().append("agent_runs", [ctx.cycle_count, ctx.can_iterate()])
    if ctx.can_iterate():
        ctx.next_task(tool, goto=True)
    return ctx.cycle_count


@task(inject_context=True)
def tool(ctx: TaskExecutionContext) -> None:
    ctx.get_channel().append("tool_runs", ctx.cycle_count)
    ctx.next_task(agent, goto=True)


def jump_loop():
    with workflow("jump_loop") as wf:
        wf.add(agent)
        wf.add(tool)
    return wf


@task(inject_context=True, max_cycles=4)
def checkpointed_loop(ctx: TaskExecutionContext) -> int:
    ctx.get_channel().append("loop_runs", ctx.cycle_count)
    if ctx.cycle_count == 2:  # taken after this run: the resumed run starts with the third
        ctx.checkpoint(path=ctx.get_channel().get("checkpoint_path"))
    if ctx.can_iterate():
        ctx.next_iteration()
    return ctx.cycle_count


def single(t):
    with workflow("graflow_single") as wf:
        wf.add(t)
    return wf


# --- channels -------------------------------------------------------------------------------------


@task(inject_context=True)
def nested_locks(ctx: TaskExecutionContext) -> str:
    channel = ctx.get_channel()
    with channel.lock("config", timeout=2), channel.lock("config", timeout=2):
        channel.set("config", "written under two locks")
    return channel.get("config")


@task(inject_context=True)
def lock_is_per_thread(ctx: TaskExecutionContext) -> str:
    """While this task holds the lock, another thread cannot take it."""
    channel = ctx.get_channel()
    outcome: list[str] = []

    def other() -> None:
        try:
            with channel.lock("config", timeout=0.3):
                outcome.append("taken")
        except TimeoutError:
            outcome.append("timed out")

    with channel.lock("config", timeout=2):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    return outcome[0]


def bump(ctx: TaskExecutionContext, times: int) -> None:
    """Read-modify-write under nested locks: no update may be lost."""
    channel = ctx.get_channel()
    for _ in range(times):
        with channel.lock("total", timeout=30):
            with channel.lock("total", timeout=30):
                value = channel.get("total", 0)
            time.sleep(0.002)
            channel.set("total", value + 1)


@task(inject_context=True)
def bump_a(ctx: TaskExecutionContext) -> None:
    bump(ctx, 10)


@task(inject_context=True)
def bump_b(ctx: TaskExecutionContext) -> None:
    bump(ctx, 10)


@task(inject_context=True)
def bump_c(ctx: TaskExecutionContext) -> None:
    bump(ctx, 10)


@task(inject_context=True)
def bump_d(ctx: TaskExecutionContext) -> None:
    bump(ctx, 10)


def locked_counters():
    with workflow("locked_counters") as wf:
        wf.add(parallel(bump_a, bump_b, bump_c, bump_d, name="bumpers"))
    return wf


@task(inject_context=True)
def wrong_types(ctx: TaskExecutionContext) -> dict[str, str]:
    channel = ctx.get_channel()
    channel.set("label", "text")
    channel.append("items", 1)
    found = {}
    for name, attempt in [("add_to_text", lambda: channel.atomic_add("label", 1)),
                          ("add_to_list", lambda: channel.atomic_add("items", 1)),
                          ("append_to_text", lambda: channel.append("label", 1))]:
        try:
            attempt()
        except Exception as exc:  # what each raises is the test's subject
            found[name] = type(exc).__name__
        else:
            found[name] = "nothing"
    return found


# --- results in the channel -------------------------------------------------------------------


@task
def calculate() -> int:
    return 42


@task(inject_context=True)
def read_results(ctx: TaskExecutionContext) -> dict[str, object]:
    channel = ctx.get_channel()
    try:
        channel.set("calculate.__result__", 0)
        refused = "nothing"
    except Exception as exc:  # what it raises is the test's subject
        refused = type(exc).__name__
    keys = channel.keys()
    return {
        "get": channel.get("calculate.__result__"),
        "exists": channel.exists("calculate.__result__"),
        "missing": channel.get("never_ran.__result__", "dflt"),
        "missing_exists": channel.exists("never_ran.__result__"),
        "listed": "calculate.__result__" in keys,
        "own_listed": "read_results.__result__" in keys,
        "via_context": ctx.get_result("calculate"),
        "write": refused,
    }


def results_in_channel():
    with workflow("results_in_channel") as wf:
        calculate >> read_results
    return wf


@task(inject_context=True)
def countdown(ctx: TaskExecutionContext, n: int = 3) -> int:
    if n > 1:
        ctx.next_iteration(n - 1)
    return n


# --- group policies ---------------------------------------------------------------------------


@task
def provision() -> str:
    return "db ready"


@task("provision")
def provision_breaks() -> str:
    raise RuntimeError("no database")


@task
def seed() -> str:
    raise RuntimeError("seed data missing")


@task
def flush_cache() -> str:
    raise RuntimeError("cache node offline")


@task
def warm() -> str:
    return "warm"


@task(inject_context=True)
def announce(ctx: TaskExecutionContext) -> str:
    return "announced"


class CriticalWithBudget(GroupExecutionPolicy):
    """graflow's way: constructor arguments, no to_config(), graflow's helpers and error."""

    def __init__(self, critical_task_ids: Iterable[str], max_failures: int) -> None:
        self._critical = frozenset(critical_task_ids)
        self.max_failures = max_failures

    def get_name(self) -> str:
        return "critical_with_budget"

    def on_group_finished(self, group_id, tasks, results, context):
        self._validate_group_results(group_id, tasks, results)
        context.get_channel().set("policy_saw", {
            "tasks": sorted(t.task_id for t in tasks),
            "results": {tid: [type(r).__name__, r.success, r.error_message or ""]
                        for tid, r in sorted(results.items())},
        })
        succeeded, failed = self._partition_group_results(results)
        critical_failed = [(tid, msg) for tid, msg in failed if tid in self._critical]
        if critical_failed:
            raise ParallelGroupError(f"critical tasks failed: {[t for t, _ in critical_failed]}",
                                     group_id=group_id, failed_tasks=critical_failed,
                                     successful_tasks=succeeded)
        if len(failed) > self.max_failures:
            raise ParallelGroupError(f"too many failures ({len(failed)} > {self.max_failures})",
                                     group_id=group_id, failed_tasks=failed, successful_tasks=succeeded)


def deployment(members, max_failures: int, backend=CoordinationBackend.THREADING):
    with workflow("deployment") as wf:
        group = parallel(*members, name="deploy").with_execution(
            backend=backend, backend_config={"thread_count": 2},
            policy=CriticalWithBudget(critical_task_ids=["provision"], max_failures=max_failures))
        group >> announce
    return wf


# --- task instances -------------------------------------------------------------------------------


@task
def fetch(region: str, retries: int = 0) -> str:
    return f"{region}:{retries}"


@task(inject_context=True)
def fan_out(ctx: TaskExecutionContext) -> list[str]:
    return [ctx.next_task(fetch(region=region)) for region in ("eu", "us", "ap")]


def instances_in_definition():
    with workflow("graflow_instances") as wf:
        fetch(region="eu", retries=2) >> announce
    return wf


def instances_at_run_time():
    with workflow("instances_at_run_time") as wf:
        wf.add(fan_out)
    return wf
