"""Workflows written as graflow's documentation writes them (low-level graph, ``wf.add_node``,
``default_max_retries``, ``Task`` roots). Module level, so Celery workers can import every task."""

from __future__ import annotations

from types import SimpleNamespace

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.task import Task
from graflow_celery.core.workflow import workflow


@task(inject_context=True)
def extract(ctx: TaskExecutionContext) -> list[int]:
    ctx.get_channel().append("log", "extract")
    return [1, 2, 3]


@task(inject_context=True)
def transform(ctx: TaskExecutionContext, extract: list[int]) -> list[int]:
    ctx.get_channel().append("log", "transform")
    return [x * 10 for x in extract]


@task(inject_context=True)
def load(ctx: TaskExecutionContext, transform: list[int]) -> int:
    ctx.get_channel().append("log", "load")
    return sum(transform)


def low_level_graph() -> SimpleNamespace:
    """graflow's low-level API: ``add_node(task, id)`` and ``add_edge``, no workflow block."""
    graph = TaskGraph()
    for t in (extract, transform, load):
        graph.add_node(t, t.task_id)
    graph.add_edge("extract", "transform")
    graph.add_edge("transform", "load")
    return SimpleNamespace(graph=graph, name="graflow_low_level")


def added_nodes():
    """graflow's ``wf.add_node(name, task)`` / ``wf.add_edge(a, b)``."""
    with workflow("graflow_added_nodes") as wf:
        pass
    wf.add_node("extract", extract)
    wf.add_node("transform", transform)
    wf.add_node("load", load)
    wf.add_edge("extract", "transform")
    wf.add_edge("transform", "load")
    return wf


@task(inject_context=True)
def unstable(ctx: TaskExecutionContext) -> str:
    """Fails on its first two attempts."""
    attempt = ctx.get_channel().atomic_add("attempts", 1)
    if attempt < 3:
        raise RuntimeError(f"fail #{attempt}")
    return f"recovered on attempt {attempt}"


@task(inject_context=True, max_retries=0)
def no_retries_please(ctx: TaskExecutionContext) -> str:
    """Says max_retries=0 itself: a run's default_max_retries does not apply."""
    ctx.get_channel().atomic_add("attempts", 1)
    raise RuntimeError("once is enough")


def single(t, name: str):
    with workflow(name) as wf:
        wf.add(t)
    return wf


@task(inject_context=True)
def context_facts(ctx: TaskExecutionContext) -> dict[str, object]:
    """What graflow's TaskExecutionContext offers beyond flow control, as the task saw it."""
    ctx.set_local_data("seen", 42)
    return {
        "session_id": ctx.session_id,
        "trace_id": ctx.trace_id,
        "has_itself": ctx.graph.has_node("context_facts"),
        "elapsed": ctx.elapsed_time(),
        "local": ctx.get_local_data("seen"),
        "missing_local": ctx.get_local_data("nope", "default"),
    }


@task
def after_root() -> str:
    return "ran after the root"


def rooted():
    """graflow's ``Task`` root: a named start that does nothing."""
    with workflow("graflow_rooted") as wf:
        Task("start") >> after_root
    return wf
