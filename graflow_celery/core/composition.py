"""Composition of tasks: ``a >> b`` (sequence), ``a | b`` (parallel group), ``chain``, ``parallel``.

Composing inside ``with workflow(...)`` records nodes and edges in that workflow's graph. A chain
is only structure (it is never a node); a parallel group is a node of its own whose members run
as separate branches.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from graflow_celery.core.coordination import CoordinationBackend, check_backend_config, resolve_backend
from graflow_celery.core.current import definition_graph
from graflow_celery.core.policies import GroupPolicy, resolve_policy
from graflow_celery.errors import GraphDefinitionError

if TYPE_CHECKING:
    from graflow_celery.core.graph import TaskGraph


class Executable:
    """Anything that can stand in a workflow: a task, a chain or a parallel group."""

    @property
    def task_id(self) -> str:
        raise NotImplementedError

    # The node that receives incoming edges, and the nodes whose completion feeds outgoing edges.
    def entry(self) -> Executable:
        return self

    def exits(self) -> list[Executable]:
        return [self]

    def nodes(self) -> Iterator[Executable]:
        """Graph nodes this executable consists of (a group yields itself, not its members)."""
        yield self

    def _graph(self) -> TaskGraph:
        graph = definition_graph(create=True)  # outside any `with workflow`: the implicit one
        if graph is None:
            raise GraphDefinitionError(
                f"composing {self.task_id!r} inside a running task adds nothing to the run: pass "
                "single tasks or parallel groups to next_task"
            )
        return graph

    def _register(self, graph: TaskGraph | None = None) -> None:
        """Add this executable's nodes to ``graph``; by default to the ``with workflow`` block's,
        or outside any, to the implicit workflow if there is one (as graflow does)."""
        graph = graph if graph is not None else definition_graph()
        if graph is not None:
            for node in self.nodes():
                graph.add_node(node)

    def __rshift__(self, other: Executable) -> Chain:
        graph = self._graph()
        self._register(graph)
        other._register(graph)
        for src in self.exits():
            graph.add_edge(src.task_id, other.entry().task_id)
        return Chain([*_chain_parts(self), *_chain_parts(other)])

    def __rrshift__(self, other: Executable) -> Chain:
        return other.__rshift__(self)

    def __lshift__(self, other: Executable) -> Chain:
        return other.__rshift__(self)

    def __or__(self, other: Executable) -> ParallelGroup:
        return ParallelGroup([self, other])


def _chain_parts(ex: Executable) -> list[Executable]:
    return list(ex.parts) if isinstance(ex, Chain) else [ex]


class Chain(Executable):
    """``a >> b >> c``: structure only; its edges are already in the workflow graph."""

    def __init__(self, parts: list[Executable]) -> None:
        self.parts = parts

    @property
    def task_id(self) -> str:
        return self.parts[0].task_id

    def entry(self) -> Executable:
        return self.parts[0].entry()

    def exits(self) -> list[Executable]:
        return self.parts[-1].exits()

    def nodes(self) -> Iterator[Executable]:
        for part in self.parts:
            yield from part.nodes()

    def __iter__(self) -> Iterator[Executable]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    def __repr__(self) -> str:
        return " >> ".join(repr(p) for p in self.parts)


class ParallelGroup(Executable):
    """Members run in parallel as separate branches; the group completes when all branches have
    finished and its policy accepts their outcomes (BSP: compute, share through the channel, barrier).
    """

    def __init__(self, tasks: Iterable[Executable], name: str | None = None, register: bool = True) -> None:
        """``register=False``: a group rebuilt from stored data, which joins no workflow."""
        self.members: list[Executable] = list(tasks)
        if not self.members:
            raise GraphDefinitionError(f"parallel group {name or '(unnamed)'} has no members")
        self._id = name or self._next_name()
        self.policy: GroupPolicy = resolve_policy("strict")
        self.backend: CoordinationBackend | None = None  # graflow's per-group choice: kept, not used
        self.backend_config: dict[str, Any] = {}
        if register:
            self._register(definition_graph(create=True))

    @staticmethod
    def _next_name() -> str:
        graph = definition_graph(create=True)
        if graph is None:  # made at run time: the name must not collide with the run's graph
            return f"ParallelGroup_{uuid.uuid4().hex[:12]}"
        return f"ParallelGroup_{graph.next_group_number()}"

    @property
    def task_id(self) -> str:
        return self._id

    @property
    def tasks(self) -> list[Executable]:
        return self.members

    @property
    def member_ids(self) -> list[str]:
        return [m.task_id for m in self.members]

    def set_group_name(self, name: str) -> ParallelGroup:
        graph = definition_graph()
        if graph is not None:
            graph.rename_node(self._id, name)
        self._id = name
        return self

    def with_execution(self, backend: CoordinationBackend | str | None = None,
                       backend_config: dict[str, Any] | None = None,
                       policy: str | GroupPolicy = "strict") -> ParallelGroup:
        """Set how member outcomes are judged: ``"strict"`` (default), ``"best_effort"``,
        ``AtLeastNGroupPolicy(n)``, ``CriticalGroupPolicy([...])`` or your own ``GroupPolicy``.
        ``backend`` (a ``CoordinationBackend``) and ``backend_config`` are graflow's: checked and
        kept, but the members run where the whole run runs (``core/coordination.py``)."""
        resolved = resolve_backend(backend)
        config = check_backend_config(backend_config)
        self.policy = resolve_policy(policy)
        if resolved is not None:
            self.backend = resolved
        self.backend_config.update(config)
        return self

    def _register(self, graph: TaskGraph | None = None) -> None:
        graph = graph if graph is not None else definition_graph()
        if graph is None:
            return
        for member in self.members:
            for node in member.nodes():
                graph.add_node(node)
                graph.set_owner(node.task_id, self._id)
        graph.add_node(self)

    def __or__(self, other: Executable) -> ParallelGroup:
        graph = definition_graph()
        has_edges = graph is not None and graph.has_edges(self._id)
        if has_edges:
            return ParallelGroup([self, other])
        if isinstance(other, ParallelGroup) and not (graph is not None and graph.has_edges(other.task_id)):
            new_members = other.members
            if graph is not None:
                graph.remove_node(other.task_id)
        else:
            new_members = [other]
        self.members.extend(new_members)
        self._register()
        return self

    def __repr__(self) -> str:
        return f"ParallelGroup({self._id}: {' | '.join(repr(m) for m in self.members)})"


def chain(*tasks: Executable) -> Executable:
    """``chain(a, b, c)`` is ``a >> b >> c``."""
    if not tasks:
        raise GraphDefinitionError("chain() needs at least one task")
    if len(tasks) == 1:
        tasks[0]._register(definition_graph(create=True))
        return tasks[0]
    for left, right in itertools.pairwise(tasks):
        left >> right  # adds the edge; one Chain is built below, not one per link
    return Chain([part for ex in tasks for part in _chain_parts(ex)])


def parallel(*tasks: Executable, name: str | None = None) -> ParallelGroup:
    """``parallel(a, b, c)`` is ``a | b | c`` as one group."""
    return ParallelGroup(list(tasks), name=name)
