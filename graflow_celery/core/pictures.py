"""Pictures of a workflow's graph: Mermaid, Graphviz DOT and plain text.

Parallel groups are drawn as subgraphs (clusters) holding their members, named by the group's
name; an edge into or out of a group starts or ends at the group. Tasks added at run time are not
in a definition's picture (they do not exist yet).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from graflow_celery.core.composition import ParallelGroup

if TYPE_CHECKING:  # graph.py draws itself with these functions
    from graflow_celery.core.graph import TaskGraph


def _members(graph: TaskGraph) -> dict[str, list[str]]:
    """Each group's member entry ids, in order."""
    return {g.task_id: g.member_ids for g in graph.groups()}


def _chains(graph: TaskGraph, group_id: str) -> list[str]:
    """Every node that belongs to a group (its members and what they chain to)."""
    return [n for n in graph.nodes if graph.owner(n) == group_id]


def _nesting(graph: TaskGraph) -> Iterator[tuple[str, str, int]]:
    """The nodes in drawing order, groups around their members: ("open" | "node" | "close",
    node id, depth)."""
    drawn: set[str] = set()

    def walk(node: str, depth: int) -> Iterator[tuple[str, str, int]]:
        if node in drawn:
            return
        drawn.add(node)
        if isinstance(graph.nodes[node], ParallelGroup):
            yield "open", node, depth
            for inner in _chains(graph, node):
                yield from walk(inner, depth + 1)
            yield "close", node, depth
        else:
            yield "node", node, depth

    for node in graph.nodes:
        if graph.owner(node) is None:
            yield from walk(node, 1)


def to_mermaid(graph: TaskGraph, direction: str = "TD") -> str:
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = [f"flowchart {direction}"]
    for kind, node, depth in _nesting(graph):
        indent = "  " * depth
        if kind == "open":
            lines.append(f'{indent}subgraph {ids[node]}["{_mermaid_label(node)}"]')
        elif kind == "close":
            lines.append(f"{indent}end")
        else:
            lines.append(f'{indent}{ids[node]}["{_mermaid_label(node)}"]')
    for src in graph.nodes:
        for dst in graph.successors(src):
            lines.append(f"  {ids[src]} --> {ids[dst]}")
    return "\n".join(lines) + "\n"


def _mermaid_label(node: str) -> str:
    return node.replace('"', "#quot;").replace("\n", " ")


def to_dot(graph: TaskGraph, name: str = "workflow") -> str:
    lines = [f"digraph {json.dumps(name)} {{", "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for kind, node, depth in _nesting(graph):
        indent = "  " * depth
        if kind == "open":
            lines.append(f"{indent}subgraph {json.dumps('cluster_' + node)} {{")
            lines.append(f"{indent}  label={json.dumps(node)};")
            lines.append(f"{indent}  {json.dumps(node)} [shape=point];")  # where edges meet the group
        elif kind == "close":
            lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{json.dumps(node)};")
    for src in graph.nodes:
        for dst in graph.successors(src):
            lines.append(f"  {json.dumps(src)} -> {json.dumps(dst)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_ascii(graph: TaskGraph, name: str | None = "workflow") -> str:
    """The workflow as an indented tree from its start nodes: ``-> x`` follows an edge, a group
    shows its members as ``[a | b]``, and a node reached again is shown as ``(see x)``. ``name``
    heads the picture (None: no heading)."""
    members = _members(graph)
    lines = [] if name is None else [name]
    seen: set[str] = set()

    def label(node: str) -> str:
        if node in members:
            return f"{node} [{' | '.join(members[node])}]"
        return node

    top = 0 if name is None else 1

    def walk(node: str, depth: int, arrow: bool) -> None:
        prefix = "  " * depth + ("-> " if arrow else "")
        if node in seen:
            lines.append(f"{prefix}(see {node})")
            return
        seen.add(node)
        lines.append(prefix + label(node))
        for member in members.get(node, []):
            for nxt in graph.successors(member):  # chains inside a member branch
                walk(nxt, depth + 2, True)
        for nxt in graph.successors(node):
            walk(nxt, depth + 1, True)

    for start in [n for n in graph.nodes if not graph.predecessors(n) and graph.owner(n) is None]:
        walk(start, top, False)
    for node in graph.nodes:  # what no start node reaches: a loop written with edges
        if node not in seen and graph.owner(node) is None:
            walk(node, top, False)
    return "\n".join(lines) + "\n"


def dependencies(graph: TaskGraph, name: str | None = "workflow") -> str:
    """Each task and what follows it: ``a >> b >> c`` (b and c both follow a), or ``a (no
    dependencies)`` - graflow's ``visualize_dependencies``. ``name`` heads it (None: no heading)."""
    lines = [] if name is None else [f"=== Workflow '{name}' Dependencies ==="]
    for node in graph.nodes:
        successors = graph.successors(node)
        lines.append(f"{node} >> {' >> '.join(successors)}" if successors else f"{node} (no dependencies)")
    return "\n".join(lines)


def info(graph: TaskGraph, name: str = "workflow") -> str:
    """Tasks, edges, the text picture and any loop written with edges - graflow's ``show_info``."""
    loops = graph.detect_cycles()
    return "\n".join([
        f"=== Workflow '{name}' Information ===",
        f"Tasks: {len(graph.nodes)}",
        f"Dependencies: {len(graph.edges)}",
        draw_ascii(graph, name).rstrip("\n"),
        f"Cycles detected: {loops}" if loops else "No cycles detected",
    ])
