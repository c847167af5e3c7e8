"""The task graph: nodes (tasks and parallel groups), edges, and which group owns which node."""

from __future__ import annotations

import itertools
from typing import Any

from graflow_celery.core import pictures
from graflow_celery.core.composition import Executable, ParallelGroup
from graflow_celery.errors import (
    ConfigurationError,
    DuplicateTaskError,
    GraphDefinitionError,
    UnknownTaskError,
)


class TaskGraph:
    def __init__(self) -> None:
        self.nodes: dict[str, Executable] = {}
        self._succ: dict[str, list[str]] = {}
        self._pred: dict[str, list[str]] = {}
        self._owner: dict[str, str] = {}  # node id -> id of the parallel group it is a member of
        self._group_numbers = itertools.count(1)

    # --- building ---------------------------------------------------------------------------------

    def add_node(self, node: Executable, task_id: str | None = None, skip_if_exists: bool = False) -> None:
        """Add a task or group. Adding the same object again does nothing; another one under a
        taken id is a ``DuplicateTaskError`` - or is skipped, with ``skip_if_exists``. ``task_id``
        (graflow's form ``add_node(task, "id")``) must be the task's own id."""
        if task_id is not None and task_id != node.task_id:
            raise GraphDefinitionError(
                f"add_node(task, {task_id!r}): a node's id is its task's id ({node.task_id!r}); "
                f"to add the task under another id, add a copy: task.with_id({task_id!r})")
        existing = self.nodes.get(node.task_id)
        if existing is node:
            return
        if existing is not None:
            if skip_if_exists:
                return
            raise DuplicateTaskError(node.task_id)
        self.nodes[node.task_id] = node
        self._succ.setdefault(node.task_id, [])
        self._pred.setdefault(node.task_id, [])

    def add_edge(self, src: str, dst: str) -> None:
        if dst not in self._succ[src]:
            self._succ[src].append(dst)
            self._pred[dst].append(src)

    def set_owner(self, node_id: str, group_id: str) -> None:
        self._owner[node_id] = group_id

    def rename_node(self, old: str, new: str) -> None:
        if old not in self.nodes:
            return
        if new in self.nodes:
            raise DuplicateTaskError(new)
        self.nodes = {(new if k == old else k): v for k, v in self.nodes.items()}
        for table in (self._succ, self._pred):
            table[new] = table.pop(old)
            for ids in table.values():
                ids[:] = [new if i == old else i for i in ids]
        self._owner = {k if k != old else new: (new if v == old else v) for k, v in self._owner.items()}

    def remove_node(self, node_id: str) -> None:
        self.nodes.pop(node_id, None)
        for dst in self._succ.pop(node_id, []):
            self._pred[dst].remove(node_id)
        for src in self._pred.pop(node_id, []):
            self._succ[src].remove(node_id)
        self._owner = {k: v for k, v in self._owner.items() if v != node_id and k != node_id}

    def has_edges(self, node_id: str) -> bool:
        return bool(self._succ.get(node_id) or self._pred.get(node_id))

    def next_group_number(self) -> int:
        return next(self._group_numbers)

    def clear(self) -> None:
        self.nodes.clear()
        self._succ.clear()
        self._pred.clear()
        self._owner.clear()

    def copy(self) -> TaskGraph:
        """A copy whose node set can grow at run time without touching the definition."""
        clone = TaskGraph()
        clone.nodes = dict(self.nodes)
        clone._succ = {k: list(v) for k, v in self._succ.items()}
        clone._pred = {k: list(v) for k, v in self._pred.items()}
        clone._owner = dict(self._owner)
        return clone

    # --- reading ----------------------------------------------------------------------------------

    def node(self, node_id: str) -> Executable:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownTaskError(node_id, list(self.nodes)) from None

    get_node = node  # graflow's name; a group's members are nodes too

    def has_node(self, node_id: str) -> bool:
        return node_id in self.nodes

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def successors(self, node_id: str) -> list[str]:
        return self._succ.get(node_id, [])

    def predecessors(self, node_id: str) -> list[str]:
        return self._pred.get(node_id, [])

    def owner(self, node_id: str) -> str | None:
        return self._owner.get(node_id)

    def start_nodes(self) -> list[str]:
        return [n for n in self.nodes if not self._pred[n] and n not in self._owner]

    get_start_nodes = start_nodes  # graflow's name

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Every edge as ``(from, to)``, in the order they were added per node."""
        return [(src, dst) for src, succ in self._succ.items() for dst in succ]

    def get_edges(self) -> list[tuple[str, str]]:
        return self.edges

    def get_parallel_group_members(self, group_id: str) -> list[str]:
        """The member ids of a parallel group; [] for any other id."""
        group = self.nodes.get(group_id)
        return group.member_ids if isinstance(group, ParallelGroup) else []

    def detect_cycles(self) -> list[list[str]]:
        """Every elementary cycle (a loop written with edges, ``a >> b >> a``), each as the list of
        its nodes from the one added first; [] for a DAG."""
        return cycles(list(self.nodes), self._succ)

    def groups(self) -> list[ParallelGroup]:
        return [n for n in self.nodes.values() if isinstance(n, ParallelGroup)]

    # --- checks before a run ----------------------------------------------------------------------

    def resolve_start(self, start_node: str | None) -> str:
        if start_node is not None:
            if start_node not in self.nodes:
                raise GraphDefinitionError(
                    f"start node {start_node!r} is not in the workflow (tasks: {sorted(self.nodes)})"
                )
            return start_node
        roots = self.start_nodes()
        if not roots:
            raise GraphDefinitionError(
                "the workflow has no start node: it is empty or every task has a predecessor"
            )
        if len(roots) > 1:
            raise GraphDefinitionError(f"the workflow has several start nodes {roots}; pass start_node=")
        return roots[0]

    def validate(self) -> None:
        for group in self.groups():
            if not group.members:
                raise GraphDefinitionError(f"parallel group {group.task_id!r} has no members")
            group.policy.validate(group.task_id, group.member_ids)

    # --- graflow's views ----------------------------------------------------------------------------

    def nx_graph(self) -> Any:
        """The graph as a ``networkx.DiGraph`` (each node's ``task`` attribute is its task or group),
        for graflow code that draws or analyses it with networkx; needs ``pip install networkx``."""
        try:
            import networkx as nx  # optional: only this view needs it
        except ImportError as exc:
            raise ConfigurationError("TaskGraph.nx_graph() needs networkx: pip install networkx") from exc
        g = nx.DiGraph()
        for node_id, node in self.nodes.items():
            g.add_node(node_id, task=node)
        g.add_edges_from(self.edges)
        return g

    def __str__(self) -> str:
        return pictures.draw_ascii(self, None)


def cycles(order: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Elementary cycles of a small directed graph: for each node in ``order``, the paths that
    leave it and come back through later nodes only, so each cycle is found once."""
    rank = {n: i for i, n in enumerate(order)}
    found: list[list[str]] = []

    def walk(start: str, node: str, path: list[str], on_path: set[str]) -> None:
        for nxt in succ.get(node, []):
            if nxt == start:
                found.append(list(path))
            elif nxt not in on_path and rank.get(nxt, -1) > rank[start]:
                path.append(nxt)
                on_path.add(nxt)
                walk(start, nxt, path, on_path)
                on_path.discard(nxt)
                path.pop()

    for start in order:
        walk(start, start, [start], {start})
    return found
