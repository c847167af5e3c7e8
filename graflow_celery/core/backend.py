"""The seams a backend fills: where run state lives (RunStore) and how ready steps reach an
executor (Dispatcher). The engine talks to nothing else."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from graflow_celery.core.steps import Applied, BranchOutcome, NewStep, RunStatus, Step, StepStart, Transition

if TYPE_CHECKING:
    from graflow_celery.channels.base import Channel, ChannelEntry
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.engine import WorkflowEngine
    from graflow_celery.core.progress import GraphShape
    from graflow_celery.core.run_state import RunState


class RunStore(Protocol):
    """One run's state. ``apply`` is atomic and idempotent per step id; it does the counting the
    transition asks for (join tokens, in-flight steps per scope, group barriers) and nothing else."""

    run_id: str

    def create(self, first: NewStep) -> Step:
        """Start the run with its first step - only a run stored and not started ("pending"),
        checked in the same atomic change: ``WorkflowDiscardedError`` for a discarded run,
        ``ConfigurationError`` for one that started already or does not exist."""
        ...

    def begin(self, step: Step) -> StepStart: ...

    def apply(self, transition: Transition) -> Applied:
        """Apply once per step id, and only for a step on the frontier of a running run (a
        straggler after the run ended changes nothing and is not marked applied)."""
        ...

    def ack_outbox(self, step_id: str, retry: bool = False) -> None:
        """The steps in the step's outbox (``retry``: its next attempt) have been sent."""
        ...

    def retry(self, step: Step, delay: float) -> Step | None:
        """Record the step's next attempt on the frontier, and in its retry outbox until sent.
        None if the frontier no longer holds this attempt (another delivery got there first)."""
        ...

    def lease(self, step: Step) -> AbstractContextManager[None]:
        """Held while an admitted step runs, so that a store shared by many processes can notice
        one that died and send its step again (Redis: ``backends/celery/leases.py``). Applying or
        retrying the step ends it; leaving the block releases it, whatever happened. A store
        whose steps run in this process alone has nothing to notice: a no-op."""
        ...

    def hand_off(self, step_id: str, token: str) -> str:
        """Mark a frontier step as waiting for a hand-off completion; returns the token that the
        completion must carry (the first one given, so a repeated hand-off keeps it)."""
        ...

    def snapshot(self, channel: Channel) -> tuple[RunState, dict[str, ChannelEntry]]:
        """The run's state and its channel at one instant (a checkpoint)."""
        ...

    def restore(self, state: RunState, expected_status: str | None = None) -> None:
        """Take over ``state``: a new run from a checkpoint, or this run reopened.
        ``expected_status``: only if the run still has that status (else ``ConfigurationError``),
        checked in the same atomic change."""
        ...

    def frontier(self, step_ids: list[str] | None = None) -> dict[str, Step]:
        """The frontier's steps (only those ids, if given) by id."""
        ...

    def fail(self, record: dict[str, Any]) -> bool:
        """End a running run as FAILED (an error outside any task); False if it had ended."""
        ...

    def cancel(self, message: str) -> bool: ...

    def discard(self, message: str) -> bool:
        """End a run that was stored and never started as DISCARDED (the transaction that submitted
        it rolled back); False if it had started or ended meanwhile."""
        ...

    def executing(self) -> set[str]:
        """Ids of the steps being executed now: begun, not finished (``lease`` held)."""
        ...

    def status(self) -> RunStatus: ...

    def error(self) -> dict[str, Any] | None: ...

    def last_result(self) -> bytes | None: ...

    def result(self, node_id: str) -> bytes | None: ...

    def results(self) -> dict[str, bytes]: ...

    def results_for(self, node_ids: list[str]) -> dict[str, bytes]: ...

    def branch_outcomes(self, group_step_id: str) -> list[BranchOutcome]: ...

    def progress(self) -> tuple[int, int]:
        """(steps applied, steps made ready so far)."""
        ...

    def graph_shape(self) -> GraphShape:
        """The run's graph as structure (no code needed), for ``run.progress()``'s total."""
        ...

    def wait(self, timeout: float | None) -> bool: ...


class Dispatcher(Protocol):
    def launch(self, engine: WorkflowEngine, context: ExecutionContext, steps: list[Step]) -> None:
        """Start executing a run: its first step, or the frontier of a resumed run."""
        ...

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None: ...

    def stopping(self) -> bool:
        """A shutdown is under way: running tasks should finish soon (``ctx.should_stop()``)."""
        ...

    def hand_off(self, context: ExecutionContext, step: Step, task: Any, args: list[Any],
                 kwargs: dict[str, Any]) -> bool:
        """Give a task to the system that owns it (the ``celery`` handler's ``from_celery`` steps);
        its completion arrives later through ``WorkflowEngine.complete_handoff``. False: this
        backend hands nothing off - run it here like any task."""
        ...
