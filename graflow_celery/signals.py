"""Lifecycle events as Celery-style signals. Importing this module subscribes them.

    from graflow_celery import signals

    @signals.step_finished.connect
    def on_step(sender, run_id, workflow, task_id, step_id, outcome, error, **kwargs):
        ...

``sender`` is the workflow's name. Every signal has ``run_id`` and ``workflow``; step signals
also ``task_id``, ``step_id``, ``attempt`` and ``cycle``. They fire once per real transition, in
the process that applied it - on Celery, in the worker (connect them in a module the workers
import, as for Celery's own signals); ``step_started`` fires per execution attempt.
"""

from __future__ import annotations

from typing import Any

from celery.utils.dispatch import Signal

from graflow_celery.core.events import Middleware, RunInfo, StepInfo, StepOutcomeKind, add_middleware

run_started = Signal(name="graflow_run_started")
run_finished = Signal(name="graflow_run_finished")  # status, error
step_started = Signal(name="graflow_step_started")
step_finished = Signal(name="graflow_step_finished")  # outcome, result (serialized), error, exception
step_retrying = Signal(name="graflow_step_retrying")  # delay, exception
group_judged = Signal(name="graflow_group_judged")  # group_id, success, error
step_parked = Signal(name="graflow_step_parked")  # feedback_id, wait (seconds to its deadline, or None)
feedback_received = Signal(name="graflow_feedback_received")  # feedback_id, status ("answered", "timed_out")


def _step(info: StepInfo) -> dict[str, Any]:
    step = info.step
    return {"run_id": info.run.run_id, "workflow": info.run.workflow, "task_id": step.node,
            "step_id": step.id, "attempt": step.attempt, "cycle": step.cycle}


class SignalMiddleware(Middleware):
    """Sends the signals above."""

    def run_started(self, run: RunInfo) -> None:
        run_started.send(sender=run.workflow, run_id=run.run_id, workflow=run.workflow)

    def run_finished(self, run: RunInfo, status: str, error: dict[str, Any] | None) -> None:
        run_finished.send(sender=run.workflow, run_id=run.run_id, workflow=run.workflow, status=status,
                          error=error)

    def step_started(self, step: StepInfo) -> None:
        step_started.send(sender=step.run.workflow, **_step(step))

    def step_finished(self, step: StepInfo, outcome: StepOutcomeKind, result: Any,
                      error: dict[str, Any] | None, exception: BaseException | None) -> None:
        step_finished.send(sender=step.run.workflow, outcome=outcome, result=result, error=error,
                           exception=exception, **_step(step))

    def step_retrying(self, step: StepInfo, delay: float, exception: BaseException) -> None:
        step_retrying.send(sender=step.run.workflow, delay=delay, exception=exception, **_step(step))

    def group_judged(self, step: StepInfo, group_id: str, success: bool,
                     error: dict[str, Any] | None) -> None:
        group_judged.send(sender=step.run.workflow, group_id=group_id, success=success, error=error,
                          **_step(step))


    def step_parked(self, step: StepInfo, feedback_id: str, wait: float | None) -> None:
        step_parked.send(sender=step.run.workflow, feedback_id=feedback_id, wait=wait, **_step(step))

    def feedback_received(self, step: StepInfo, feedback_id: str, status: str) -> None:
        feedback_received.send(sender=step.run.workflow, feedback_id=feedback_id, status=status,
                               **_step(step))


add_middleware(SignalMiddleware())
