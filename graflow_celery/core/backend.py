"""The seams a backend fills: where run state lives (RunStore) and how ready steps reach an
executor (Dispatcher). The engine talks to nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from graflow_celery.core.steps import Applied, BranchOutcome, NewStep, RunStatus, Step, StepStart, Transition

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.engine import WorkflowEngine


class RunStore(Protocol):
    """One run's state. ``apply`` is atomic and idempotent per step id; it does the counting the
    transition asks for (join tokens, in-flight steps per scope, group barriers) and nothing else."""

    run_id: str

    def create(self, first: NewStep) -> Step: ...

    def begin(self, step: Step) -> StepStart: ...

    def apply(self, transition: Transition) -> Applied: ...

    def ack_outbox(self, step_id: str) -> None: ...

    def fail(self, record: dict[str, Any]) -> bool:
        """End a running run as FAILED (an error outside any task); False if it had ended."""
        ...

    def cancel(self, message: str) -> bool: ...

    def status(self) -> RunStatus: ...

    def error(self) -> dict[str, Any] | None: ...

    def last_result(self) -> bytes | None: ...

    def result(self, node_id: str) -> bytes | None: ...

    def results(self) -> dict[str, bytes]: ...

    def results_for(self, node_ids: list[str]) -> dict[str, bytes]: ...

    def branch_outcomes(self, group_step_id: str) -> list[BranchOutcome]: ...

    def progress(self) -> tuple[int, int]: ...

    def wait(self, timeout: float | None) -> bool: ...


class Dispatcher(Protocol):
    def launch(self, engine: WorkflowEngine, context: ExecutionContext, first: Step) -> None:
        """Start executing a new run from its first step."""
        ...

    def send(self, context: ExecutionContext, steps: list[Step]) -> None: ...

    def hand_off(self, context: ExecutionContext, step: Step, task: Any, args: list[Any],
                 kwargs: dict[str, Any]) -> bool:
        """Give a ``handoff`` task to the system that owns it; its completion arrives later through
        ``WorkflowEngine.complete_handoff``. False: run it here like any task."""
        ...
