"""graflow's graph utilities (``graflow.utils.graph``): pictures and summaries of a graph.

Each takes a ``TaskGraph`` (``wf.graph``), a workflow, or any networkx-style directed graph
(``.nodes`` and ``.successors(n)``, such as ``wf.graph.nx_graph()`` or your own ``nx.DiGraph``).
Pictures are drawn by ``core/pictures.py``: the same pictures as ``wf.to_mermaid()``,
``wf.to_dot()`` and ``wf.draw_ascii()``. Rendering to PNG is left to Graphviz (``dot -Tpng``) or
Mermaid's own tools.
"""

from __future__ import annotations

from typing import Any

from graflow_celery.core import pictures
from graflow_celery.core.composition import Executable
from graflow_celery.core.graph import TaskGraph


class _Node(Executable):
    """A node of a graph drawn from outside: only its name."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def task_id(self) -> str:
        return self._name


def as_task_graph(graph: Any) -> TaskGraph:
    """``graph`` as a ``TaskGraph``: itself, a workflow's, or one with the same nodes and edges."""
    if isinstance(graph, TaskGraph):
        return graph
    if isinstance(getattr(graph, "graph", None), TaskGraph):  # a workflow
        return graph.graph  # type: ignore[no-any-return]
    if not hasattr(graph, "nodes") or not hasattr(graph, "successors"):
        raise TypeError(f"expected a TaskGraph, a workflow or a networkx DiGraph, got {type(graph).__name__}")
    copy = TaskGraph()
    names = [str(n) for n in graph.nodes]
    for name in names:
        copy.add_node(_Node(name))
    for node in graph.nodes:
        for succ in graph.successors(node):
            copy.add_edge(str(node), str(succ))
    return copy


def draw_ascii(graph: Any) -> str:
    """The graph as an indented text tree (``print(wf.graph)`` prints the same)."""
    return pictures.draw_ascii(as_task_graph(graph), None)


def draw_mermaid(graph: Any, title: str = "Graph", *, with_styles: bool = True,
                 node_colors: dict[Any, str] | None = None, wrap_label_n_words: int = 9) -> str:
    """A Mermaid flowchart titled ``title``; ``node_colors`` fills nodes (``{"a": "#fde"}``) when
    ``with_styles``. ``wrap_label_n_words`` is accepted for graflow's signature (labels are task
    ids and are not wrapped)."""
    task_graph = as_task_graph(graph)
    lines = ["---", f"title: {title}", "---", pictures.to_mermaid(task_graph).rstrip("\n")]
    if with_styles and node_colors:
        ids = {node: f"n{i}" for i, node in enumerate(task_graph.nodes)}  # to_mermaid's node ids
        lines += [f"  style {ids[str(node)]} fill:{color}" for node, color in node_colors.items()
                  if str(node) in ids]
    return "\n".join(lines) + "\n"


def draw_dot(graph: Any, name: str = "workflow") -> str:
    """Graphviz DOT, for ``dot -Tpng``."""
    return pictures.to_dot(as_task_graph(graph), name)


def show_graph_info(graph: Any) -> None:
    """Print the nodes, the edges and any cycles."""
    task_graph = as_task_graph(graph)
    loops = task_graph.detect_cycles()
    print("=== Graph Information ===")
    print(f"Nodes: {list(task_graph.nodes)}")
    print(f"Edges: {task_graph.edges}")
    print(f"Cycles detected: {loops}" if loops else "No cycles detected")


def visualize_dependencies(graph: Any) -> None:
    """Print each node with the nodes that follow it."""
    print(pictures.dependencies(as_task_graph(graph), None))
