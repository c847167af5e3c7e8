"""The workflow being defined right now (set by ``with workflow(...)``), as a context variable."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graflow_celery.core.graph import TaskGraph

# Set by ``with workflow(...)``; set to None by the engine while a task body runs (tasks made at
# run time go to ``next_task``, not into a definition). Never set: outside both.
current_graph: ContextVar[TaskGraph | None] = ContextVar("graflow_celery_current_graph", default=None)

_UNSET: Any = object()


def _no_implicit_workflow(create: bool) -> TaskGraph | None:
    return None


# graflow's implicit workflow, which composition outside any ``with workflow(...)`` adds to:
# core/workflow.py installs how to find (``create``: or make) it - composition cannot import it.
_implicit_graph: Callable[[bool], TaskGraph | None] = _no_implicit_workflow


def set_implicit_workflow(find: Callable[[bool], TaskGraph | None]) -> None:
    global _implicit_graph
    _implicit_graph = find


def definition_graph(create: bool = False) -> TaskGraph | None:
    """The graph composition adds to: the ``with workflow(...)`` block's; outside any, the implicit
    workflow's (made now if ``create``); None while a task body runs."""
    graph = current_graph.get(_UNSET)
    if graph is _UNSET:
        return _implicit_graph(create)
    return graph  # type: ignore[no-any-return]
