"""Run state for the in-process backend: Python objects under one lock.

``apply`` does what the Redis backend's ``apply_transition.lua`` does, in the same order; the
store tests and the contract suite run on both so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from contextlib import AbstractContextManager
from typing import Any

from graflow_celery.channels.base import Channel, ChannelEntry
from graflow_celery.core.composition import Executable
from graflow_celery.core.engine import all_nodes
from graflow_celery.core.errors_record import short_message, storable
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.progress import GraphShape
from graflow_celery.core.run_state import BarrierState, RunState, ScopeState, new_run_state, refused_start
from graflow_celery.core.steps import (
    FINISHED,
    ROOT_SCOPE,
    Applied,
    BranchOutcome,
    NewStep,
    RunStatus,
    Step,
    StepPhase,
    StepStart,
    Transition,
)
from graflow_celery.core.task import TaskWrapper
from graflow_celery.errors import ConfigurationError
from graflow_celery.serialization import Serializer


class _Executing:
    """Marks a step as executing while its task runs (set.add/discard are atomic under the GIL,
    so the hot path takes no lock)."""

    __slots__ = ("_ids", "_step_id")

    def __init__(self, ids: set[str], step_id: str) -> None:
        self._ids, self._step_id = ids, step_id

    def __enter__(self) -> None:
        self._ids.add(self._step_id)

    def __exit__(self, *exc: object) -> None:
        self._ids.discard(self._step_id)


class MemoryRunStore:
    def __init__(self, run_id: str, graph: TaskGraph, serializer: Serializer | None = None,
                 lock: threading.RLock | None = None) -> None:
        self.run_id = run_id
        self._graph = graph  # the run's own copy: nodes added at run time go here
        self._defined = len(graph.nodes)
        # Portable mode: bound arguments of nodes added at run time pass it, as on Redis. In
        # process (None) the nodes are kept as the task made them.
        self._serializer = serializer
        self._s = RunState()
        self._waiting: dict[str, int] = {}  # group step id -> branches its barrier still waits for
        # Transient, not part of a checkpoint: what an earlier delivery may not have sent yet.
        self._handoffs: dict[str, str] = {}  # step id -> token of its hand-off
        self._outbox: dict[str, list[Step]] = {}
        self._retries: dict[str, tuple[Step, float]] = {}  # retry outbox
        self._executing: set[str] = set()  # ids of the steps the executor is running now
        # Shared with the run's channel, so that a snapshot holds both at one instant.
        self._lock = lock or threading.RLock()
        self._finished = threading.Event()

    def _alloc(self, new: NewStep, scope: str, barrier: str = "") -> Step:
        s = self._s
        s.seq += 1
        step_id = str(s.seq)
        cycle = 0
        if new.phase == "run":  # the node's runs so far: its cycle_count is one more
            cycle = s.runs.get(new.node, 0)
            s.runs[new.node] = cycle + 1
        step = Step(step_id, new.node, scope, new.phase, cycle, new.data, 0, barrier)
        s.frontier[step_id] = step
        return step

    def _finish(self, status: RunStatus, error: dict[str, Any] | None) -> None:
        self._s.status = status
        self._s.error = error
        self._finished.set()

    # --- lifecycle ---------------------------------------------------------------------------------

    def create(self, first: NewStep) -> Step:
        step = Step("1", first.node)
        with self._lock:
            if self._s.status != "pending":
                raise refused_start(self.run_id, self._s.status, self._s.error)
            self._s = new_run_state(step)
            self._waiting = {}
        return step

    def begin(self, step: Step) -> StepStart:
        # No lock: each read is one dict operation, and in process only the thread that runs a
        # step changes what the store holds for it (its frontier entry, outbox, retry).
        s = self._s
        step_id = step.id
        outbox = self._outbox.get(step_id)
        return StepStart(s.status, step_id in s.applied, list(outbox) if outbox else None,
                         s.frontier.get(step_id), self._retries.get(step_id) if self._retries else None,
                         self._handoffs.get(step_id) if self._handoffs else None)

    def apply(self, t: Transition) -> Applied:
        s = self._s
        step = t.step
        added = [pair for executable in t.new_nodes for pair in all_nodes(executable)] if t.new_nodes else ()
        if self._serializer is not None and added:  # as the Redis store, which must encode them
            added = [(round_tripped(node, self._serializer), owner) for node, owner in added]
        step_id = step.id
        with self._lock:
            if step_id in s.applied:
                return Applied(False, list(self._outbox.get(step_id, [])))
            if step_id not in s.frontier or s.status != "running":
                return Applied(False, [])  # not a step of this run, or a straggler after its end
            s.applied.add(step_id)
            del s.frontier[step_id]
            if self._handoffs:
                self._handoffs.pop(step_id, None)
            if self._retries:
                self._retries.pop(step_id, None)
            scope = s.scopes[step.scope]
            if t.kind == "completed":
                s.results[step.node] = t.result if t.result is not None else b"null"
                s.last_result = t.result
                scope.last_result = t.result
            elif t.kind == "failed" and t.error is not None and scope.error is None:
                scope.error = short_message(t.error)
                scope.error_step = step
            for node, owner in added:
                if node.task_id in self._graph:  # an id already in the run: the first one stays
                    continue
                self._graph.add_node(node)
                if owner is not None:
                    self._graph.set_owner(node.task_id, owner)
            if t.run_end is not None and s.status == "running":
                self._finish("completed" if t.run_end == "terminated" else t.run_end,
                             None if t.run_end == "terminated" else t.error)
                if t.run_end == "failed":
                    s.failed_step = step
            ready: list[Step] = []
            if s.status == "running":
                if t.enqueue:
                    ready = [self._alloc(n, step.scope) for n in t.enqueue]
                for d in t.deliver:
                    tokens = s.tokens.setdefault(d.node, {})
                    tokens[d.src] = tokens.get(d.src, "") + ("0" if d.skip else "1")
                    if all(tokens.get(src) for src in d.required):
                        real = all(tokens[src][0] == "1" for src in d.required)
                        for src in d.required:
                            tokens[src] = tokens[src][1:]
                            if not tokens[src]:
                                del tokens[src]
                        if not tokens:
                            del s.tokens[d.node]
                        phase: StepPhase = "run" if real else "skip"
                        ready.append(self._alloc(NewStep(d.node, phase=phase), step.scope))
                scope.inflight += len(ready) - (0 if t.launch else 1)
                if t.launch:
                    s.barriers[step.id] = BarrierState(step.node, step.scope, [None] * len(t.launch))
                    self._waiting[step.id] = len(t.launch)
                    for i, entry in enumerate(t.launch):
                        branch = f"{step.id}/{i}"
                        s.scopes[branch] = ScopeState(inflight=1)
                        ready.append(self._alloc(NewStep(entry), branch))
                if scope.inflight <= 0:
                    judge = self._scope_finished(step.scope)
                    if judge is not None:
                        ready.append(judge)
            if ready:
                self._outbox[step_id] = ready  # never changed: the engine reads it, ack_outbox drops it
            return Applied(True, ready, None if s.status == "running" else s.status)

    def _scope_finished(self, scope_id: str) -> Step | None:
        """If the scope has nothing in flight: finish the run, or report the branch to its barrier
        and, when it is the last, return the group's judge step."""
        s = self._s
        scope = s.scopes[scope_id]
        if scope.inflight > 0:
            return None
        if scope_id == ROOT_SCOPE:
            self._finish("completed", None)
            return None
        group_step, _, index = scope_id.rpartition("/")
        barrier = s.barriers[group_step]
        barrier.outcomes[int(index)] = BranchOutcome(scope.error is None, scope.error, scope.last_result,
                                                     scope.error_step)
        del s.scopes[scope_id]
        self._waiting[group_step] -= 1  # a counter: BarrierState.done counts, O(width) per branch
        if self._waiting[group_step] > 0:
            return None
        del self._waiting[group_step]
        return self._alloc(NewStep(barrier.node, phase="judge"), barrier.scope, barrier=group_step)

    def snapshot(self, channel: Channel | None = None) -> tuple[RunState, dict[str, ChannelEntry]]:
        with self._lock:
            error = self._s.error  # may hold the task's exception object: plain data only
            state = copied(dataclasses.replace(self._s, error=None))
            state.error = storable(error) if error is not None else None
            return state, (channel.export() if channel is not None else {})

    def restore(self, state: RunState, expected_status: str | None = None) -> None:
        """Take over a run's state: a new run from a checkpoint, or this run reopened (only if
        it still has ``expected_status``, when given)."""
        with self._lock:
            if expected_status is not None and self._s.status != expected_status:
                raise ConfigurationError(f"run {self.run_id} is {self._s.status}, not {expected_status}")
            self._s = copied(state)
            self._waiting = {gid: b.outcomes.count(None) for gid, b in self._s.barriers.items()
                             if None in b.outcomes}
            self._outbox.clear()
            self._retries.clear()
            self._handoffs.clear()
            if state.status in FINISHED:
                self._finished.set()
            else:
                self._finished.clear()

    def ack_outbox(self, step_id: str, retry: bool = False) -> None:
        (self._retries if retry else self._outbox).pop(step_id, None)  # one dict operation: atomic

    def retry(self, step: Step, delay: float) -> Step | None:
        s = self._s
        with self._lock:
            entry = s.frontier.get(step.id)
            if entry is None or entry.attempt != step.attempt:
                return None
            s.frontier[step.id] = next_step = entry.next_attempt()
            self._retries[step.id] = (next_step, delay)
            return next_step

    def held_state(self) -> RunState:
        """The live state, for a helper keeping part of it (``feedback.py``): only under the lock."""
        return self._s

    def lease(self, step: Step) -> AbstractContextManager[None]:
        """Only marks the step as being executed (``task_states()``): steps run in this process,
        so if it dies the whole run goes with it - there is nobody to notice."""
        return _Executing(self._executing, step.id)

    def executing(self) -> set[str]:
        return set(self._executing)  # one C-level copy under the GIL

    def hand_off(self, step_id: str, token: str) -> str:
        with self._lock:
            return self._handoffs.setdefault(step_id, token)

    def frontier(self, step_ids: list[str] | None = None) -> dict[str, Step]:
        with self._lock:
            entries = self._s.frontier
            if step_ids is None:
                return dict(entries)
            return {i: entries[i] for i in step_ids if i in entries}

    def fail(self, record: dict[str, Any]) -> bool:
        return self._end("failed", record)

    def cancel(self, message: str) -> bool:
        return self._end("cancelled", {"kind": "cancelled", "message": message, "task_id": None})

    def discard(self, message: str) -> bool:
        return self._end("discarded", {"kind": "discarded", "message": message, "task_id": None},
                         only_from="pending")

    def _end(self, status: RunStatus, record: dict[str, Any], only_from: str | None = None) -> bool:
        with self._lock:
            if self._s.status in FINISHED or (only_from is not None and self._s.status != only_from):
                return False
            self._finish(status, record)
            return True

    # --- reading -----------------------------------------------------------------------------------

    def status(self) -> RunStatus:
        return self._s.status

    def error(self) -> dict[str, Any] | None:
        return self._s.error

    def last_result(self) -> bytes | None:
        return self._s.last_result

    def result(self, node_id: str) -> bytes | None:
        return self._s.results.get(node_id)

    def results(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._s.results)

    def results_for(self, node_ids: list[str]) -> dict[str, bytes]:
        results = self._s.results
        return {n: results[n] for n in node_ids if n in results}

    def branch_outcomes(self, group_step_id: str) -> list[BranchOutcome]:
        with self._lock:
            outcomes = self._s.barriers[group_step_id].outcomes
            return [o for o in outcomes if o is not None]

    def progress(self) -> tuple[int, int]:
        return len(self._s.applied), self._s.seq

    def graph_shape(self) -> GraphShape:
        with self._lock:
            return GraphShape.of_graph(self._graph, grown=len(self._graph.nodes) > self._defined)

    def wait(self, timeout: float | None) -> bool:
        return self._finished.wait(timeout)


def copied(state: RunState) -> RunState:
    """A copy of a run's state whose containers can change apart from the original. Values -
    results, iteration data - are shared, not copied: in process they are the tasks' own
    objects, which may be large, or not copyable at all (a lock, a generator)."""
    return dataclasses.replace(
        state,
        error=copy.deepcopy(state.error),
        applied=set(state.applied),
        frontier=dict(state.frontier),
        results=dict(state.results),
        runs=dict(state.runs),
        feedback={key: copy.deepcopy(record) for key, record in state.feedback.items()},
        tokens={node: dict(edges) for node, edges in state.tokens.items()},
        scopes={sid: dataclasses.replace(scope) for sid, scope in state.scopes.items()},
        barriers={gid: dataclasses.replace(b, outcomes=list(b.outcomes))
                  for gid, b in state.barriers.items()},
    )


def round_tripped(node: Executable, serializer: Serializer) -> Executable:
    """A task added at run time as a worker would see it: its bound arguments written by the
    serializer and read back (``BoundArgumentError`` names one that cannot be written)."""
    if not isinstance(node, TaskWrapper) or not node.bound_kwargs:
        return node
    clone = copy.copy(node)
    clone.bound_kwargs = serializer.loads(node.dump_bound(serializer))
    return clone
