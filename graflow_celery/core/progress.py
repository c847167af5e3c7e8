"""How far a run has got, with the total where the graph knows it: ``run.progress()``.

The total is the steps made ready so far plus the steps the rest of the *static* graph will still
make ready from the run's frontier: the successors of every frontier step, the members and the
judge of a group not launched yet, the judge of every group with members still running, and so
on up to the run's end. A task that adds tasks at run time (``next_task``, ``next_iteration``,
goto) can make the run longer than that; once one has, the total is marked a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from graflow_celery.core.composition import ParallelGroup

if TYPE_CHECKING:
    from graflow_celery.core.graph import TaskGraph
    from graflow_celery.core.steps import Step


@dataclass(frozen=True)
class GraphShape:
    """A run's graph as structure only - no code - so that any process can read it."""

    groups: frozenset[str] = frozenset()  # group node ids (every other node is a task)
    successors: dict[str, list[str]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # node -> the group it is a member of
    grown: bool = False  # nodes were added at run time

    @classmethod
    def of_graph(cls, graph: TaskGraph, grown: bool) -> GraphShape:
        return cls(frozenset(n for n, node in graph.nodes.items() if isinstance(node, ParallelGroup)),
                   {n: list(graph.successors(n)) for n in graph.nodes},
                   {n: o for n in graph.nodes if (o := graph.owner(n)) is not None}, grown)

    def cost(self, node: str) -> int:
        """Steps a node makes ready when it runs: a task one; a group its launch, its members'
        steps and its judge."""
        if node not in self.groups:
            return 1
        return 2 + sum(self.cost(m) for m, owner in self.owners.items() if owner == node)


class _Counts(NamedTuple):
    done: int
    total: int


class Progress(_Counts):
    """``(done, total)``: steps applied, and the steps the run will take as far as its graph says
    (for a run that has ended, the steps it took). ``lower_bound``: tasks added at run time may
    add more. ``ready``: steps made ready so far. A pair, so ``done, total = run.progress()``."""

    lower_bound: bool
    ready: int

    def __new__(cls, done: int, total: int, lower_bound: bool = False, ready: int | None = None) -> Progress:
        made = super().__new__(cls, done, total)
        made.lower_bound = lower_bound
        made.ready = total if ready is None else ready
        return made

    def __repr__(self) -> str:
        return f"Progress(done={self.done}, total={self.total}{'+' if self.lower_bound else ''})"


def progress(done: int, ready: int, running: bool, frontier: Iterable[Step], shape: GraphShape) -> Progress:
    frontier = list(frontier)
    if not running:
        return Progress(done, ready)
    still = _steps_to_come(frontier, shape)
    grown = shape.grown or any(step.cycle > 0 for step in frontier)
    return Progress(done, max(ready + still, done), grown, ready)


def _steps_to_come(frontier: list[Step], shape: GraphShape) -> int:
    on_frontier = {step.node for step in frontier}
    later: set[str] = set()  # nodes not made ready yet that the static graph will reach
    judged: set[str] = set()  # groups whose members are running: their judge is still to come
    count = 0

    def after(node: str) -> None:
        """Everything the graph reaches once ``node`` is done, in its group and above it."""
        todo = list(shape.successors.get(node, []))
        while todo:
            nxt = todo.pop()
            if nxt in later or nxt in on_frontier:
                continue
            later.add(nxt)
            todo.extend(shape.successors.get(nxt, []))
        group = shape.owners.get(node)
        if group is not None and group not in judged:
            judged.add(group)
            after(group)

    for step in frontier:
        if step.phase == "run" and step.node in shape.groups:
            count += shape.cost(step.node) - 1  # its members and judge, not made ready yet
        after(step.node)
    return count + sum(shape.cost(n) for n in later) + len(judged)
