"""What Flower and Celery's event receivers show of a step that waits for a person.

Celery has no state for it: the step's message is done with (acknowledged, no worker holds it),
but the step has not finished. Celery's event state takes any ``task-<name>`` event as the custom
state NAME, so the step task sends ``task-parked`` when the step parks (then ends its message
with ``Ignore``: no success event follows, see ``worker.py``) and ``task-resumed`` when, sent
again under the same task id, it reads its answer or its timeout; then it ends as any step does
(SUCCESS, FAILURE, or PARKED again on its next request). ``task-resumed`` is needed because
custom states outrank RECEIVED and STARTED in Celery's event state: the re-sent message's own
events would leave it reading PARKED while it runs.

A lifecycle-event subscriber (``core/events.py``) that only acts inside a Celery step task.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_task

from graflow_celery.backends.celery.dispatcher import STEP_TASK, message_id
from graflow_celery.core.events import Middleware, StepInfo, add_middleware
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.worker")


class ParkedStates(Middleware):
    def step_parked(self, step: StepInfo, feedback_id: str, wait: float | None) -> None:
        _send("task-parked", step, feedback_id=feedback_id, waits_for=wait)

    def feedback_received(self, step: StepInfo, feedback_id: str, status: str) -> None:
        _send("task-resumed", step, feedback_id=feedback_id, feedback=status)


def _send(kind: str, step: StepInfo, **fields: Any) -> None:
    task = current_task._get_current_object()  # a proxy: None outside a task
    if task is None or task.name != STEP_TASK or task.request.id != message_id(step.run.run_id, step.step.id):
        return  # not this step's Celery message: an in-process run, or eager mode
    try:
        task.send_event(kind, **fields)
    except Exception as exc:  # monitoring never changes what happens to the step
        logger.warning("run %s: step %s: could not send %s: %s", step.run.run_id, step.step.id, kind,
                       describe(exc))


add_middleware(ParkedStates())
