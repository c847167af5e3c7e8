"""The task graph: nodes (tasks and parallel groups), edges, and which group owns which node."""

from __future__ import annotations

import itertools

from graflow_celery.core.composition import Executable, ParallelGroup
from graflow_celery.errors import DuplicateTaskError, GraphDefinitionError


class TaskGraph:
    def __init__(self) -> None:
        self.nodes: dict[str, Executable] = {}
        self._succ: dict[str, list[str]] = {}
        self._pred: dict[str, list[str]] = {}
        self._owner: dict[str, str] = {}  # node id -> id of the parallel group it is a member of
        self._group_numbers = itertools.count(1)

    # --- building ---------------------------------------------------------------------------------

    def add_node(self, node: Executable) -> None:
        existing = self.nodes.get(node.task_id)
        if existing is node:
            return
        if existing is not None:
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
            raise GraphDefinitionError(f"no task {node_id!r} in the workflow") from None

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
