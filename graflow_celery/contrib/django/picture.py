"""A run's graph laid out for the run page: rows of boxes, top to bottom, groups as boxes holding
one lane per member - plain HTML boxes, nothing fetched from elsewhere. Each box names its
successors (``data-successors``), from which the page's script draws the edges as lines.

A box's row is the length of the longest path to it from the roots of its scope (the workflow,
or one member lane of a group), so every edge points down the page. Tasks with no edge and no
group (added at run time, or ``wf.add``-ed) share the last row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from graflow_celery.core.composition import ParallelGroup
from graflow_celery.core.graph import TaskGraph


@dataclass
class Box:
    id: str
    successors: list[str]
    lanes: list[list[list[Box]]] = field(default_factory=list)  # a group: per member, rows of boxes
    state: str = "pending"
    label: str = "pending"  # the state as a person reads it

    @property
    def is_group(self) -> bool:
        return bool(self.lanes)

    @property
    def successors_json(self) -> str:
        return json.dumps(self.successors)


def layout(graph: TaskGraph) -> list[list[Box]]:
    """The workflow's rows of boxes."""
    top = [n for n in graph.nodes if graph.owner(n) is None]
    loose = [n for n in top if not graph.successors(n) and not graph.predecessors(n)
             and not isinstance(graph.nodes[n], ParallelGroup)]
    rows = _rows(graph, [n for n in top if n not in loose]) if len(loose) < len(top) else []
    if loose:
        rows.append([_box(graph, n) for n in loose])
    return rows


def _rows(graph: TaskGraph, nodes: Iterable[str]) -> list[list[Box]]:
    scope = list(dict.fromkeys(nodes))
    inside = set(scope)
    depth: dict[str, int] = {}
    for _ in range(len(scope)):  # longest paths by relaxation; a cycle cannot loop for ever
        changed = False
        for node in scope:
            below = max((depth.get(p, 0) + 1 for p in graph.predecessors(node) if p in inside), default=0)
            if depth.get(node) != below:
                depth[node], changed = below, True
        if not changed:
            break
    rows: list[list[Box]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in scope:
        rows[depth[node]].append(_box(graph, node))
    return rows


def _box(graph: TaskGraph, node: str) -> Box:
    box = Box(node, list(graph.successors(node)))
    group = graph.nodes.get(node)
    if isinstance(group, ParallelGroup):
        box.lanes = [_rows(graph, _lane(graph, node, member)) for member in group.member_ids]
    return box


def _lane(graph: TaskGraph, group: str, member: str) -> list[str]:
    """A member and what it chains to inside the group."""
    lane, todo = [], [member]
    while todo:
        node = todo.pop(0)
        if node in lane or node not in graph.nodes:
            continue
        lane.append(node)
        todo += [n for n in graph.successors(node) if graph.owner(n) == group]
    return lane


def mark(rows: list[list[Box]], states: dict[str, str], labels: dict[str, str]) -> None:
    """Give every box its task's state."""
    for row in rows:
        for box in row:
            box.state = states.get(box.id, "pending")
            box.label = labels.get(box.state, box.state)
            for lane in box.lanes:
                mark(lane, states, labels)
