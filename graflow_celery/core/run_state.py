"""A run's state as plain data: what a checkpoint holds, what a store can be restored from, and
how a failed run is reopened.

Both stores keep exactly this (the memory store as these objects, the Redis store in hashes the
Lua scripts change); ``snapshot()`` and ``restore()`` convert. Messages in flight, outboxes and
hand-off tokens are not part of it: a restored run sends its whole frontier again, and every
transition is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from graflow_celery.core.feedback_record import FeedbackRecord
from graflow_celery.core.steps import ROOT_SCOPE, BranchOutcome, RunStatus, Step
from graflow_celery.errors import (
    ConfigurationError,
    GraflowError,
    RunAlreadyStartedError,
    WorkflowDiscardedError,
)


@dataclass
class ScopeState:
    """The run itself (scope ``""``) or one branch of a parallel group (``"<group step>/<i>"``)."""

    inflight: int = 0  # steps made ready in this scope and not yet applied (a group counts once)
    last_result: bytes | None = None  # the branch's result, reported to its barrier
    error: str | None = None  # the branch's first failure, one line
    error_step: Step | None = None  # the step that failed first in this scope


@dataclass
class BarrierState:
    """A parallel group step's barrier: one outcome per member branch, None until it finished."""

    node: str
    scope: str  # the scope the group step runs in: its judge runs there too
    outcomes: list[BranchOutcome | None]

    @property
    def done(self) -> int:
        return sum(o is not None for o in self.outcomes)


@dataclass
class RunState:
    status: RunStatus = "pending"
    error: dict[str, Any] | None = None
    seq: int = 0  # the last step number allocated
    applied: set[str] = field(default_factory=set)
    frontier: dict[str, Step] = field(default_factory=dict)
    results: dict[str, bytes] = field(default_factory=dict)
    last_result: bytes | None = None
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # node -> src -> "1" real, "0" skip
    scopes: dict[str, ScopeState] = field(default_factory=dict)
    barriers: dict[str, BarrierState] = field(default_factory=dict)
    failed_step: Step | None = None  # the step whose failure ended the run
    runs: dict[str, int] = field(default_factory=dict)  # node -> its steps made ready to run so far
    feedback: dict[str, FeedbackRecord] = field(default_factory=dict)  # requests for a person, by key


def reopen(state: RunState) -> RunState:
    """The state of a failed run made ready to go on: the step that failed it runs again with
    fresh retries; if that was a group's judge, the branches that failed run again from their
    failed step and the group is judged anew. Completed results stay. A run that failed outside
    any task (no failed step) simply goes on from its frontier."""
    if state.status != "failed":
        raise ConfigurationError(f"only a failed run can be resumed; this one is {state.status}")
    if state.failed_step is not None:
        _reopen_step(state, state.failed_step, holds_slot=True)
    state.status, state.error, state.failed_step = "running", None, None
    return state


def _reopen_step(state: RunState, step: Step, holds_slot: bool) -> None:
    """``holds_slot``: the step ended the run, so its scope still counts it in flight; a failure
    that did not end the run had given its slot up."""
    state.applied.discard(step.id)
    scope = state.scopes[step.scope]
    if scope.error_step is not None and scope.error_step.id == step.id:  # its failure is undone
        scope.error, scope.error_step = None, None
    if not holds_slot:
        scope.inflight += 1
    barrier = state.barriers.get(step.barrier) if step.phase == "judge" else None
    failed = [i for i, o in enumerate(barrier.outcomes) if o is not None and o.error_step is not None] \
        if barrier is not None else []
    if barrier is None or not failed:
        state.frontier[step.id] = replace(step, attempt=0)
        return
    for i in failed:  # the judge is undone: its barrier waits for these branches again
        outcome = barrier.outcomes[i]
        assert outcome is not None and outcome.error_step is not None
        barrier.outcomes[i] = None
        state.scopes[f"{step.barrier}/{i}"] = ScopeState(last_result=outcome.result)
        _reopen_step(state, outcome.error_step, holds_slot=False)


def refused_start(run_id: str, status: str, error: dict[str, Any] | None) -> GraflowError:
    """Why a run that is not "pending" does not start (``RunStore.create``): a discarded run never
    starts, and a run starts once."""
    if status == "discarded":
        reason = (error or {}).get("message") or "no reason given"
        return WorkflowDiscardedError(f"{reason} (run {run_id} never starts)")
    if status == "missing":
        return ConfigurationError(f"run {run_id} cannot start: there is no such run (never stored, or its "
                                  "state expired)")
    return RunAlreadyStartedError(run_id, status)


def new_run_state(first: Step) -> RunState:
    """The state of a run whose first step was just made ready."""
    return RunState(status="running", seq=int(first.id), frontier={first.id: first},
                    scopes={ROOT_SCOPE: ScopeState(inflight=1)}, runs={first.node: 1})
