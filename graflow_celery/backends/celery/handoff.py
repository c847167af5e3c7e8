"""Finishing handed-off steps: the link callback (``graflow_celery.step_done``) and errback
(``graflow_celery.step_failed``) attached to a ``from_celery`` task's message."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.worker import ENGINE, guarded, parse_step

logger = logging.getLogger("graflow_celery.handoff")

STEP_DONE = "graflow_celery.step_done"
STEP_FAILED = "graflow_celery.step_failed"


def _finish(task: Task, run_id: Any, raw_step: Any, value: Any = None, error: BaseException | None = None
            ) -> None:
    step = parse_step(run_id, raw_step)
    if step is None:
        return
    with guarded(task, run_id, step.node, loading=True):
        context = Runtime.for_app(task.app).context_for(run_id)
    if context is None:
        logger.warning("run %s is unknown or expired; result of step %s dropped", run_id, step.node)
        return
    with guarded(task, run_id, step.node):
        ENGINE.complete_handoff(context, step, value, error)


@shared_task(name=STEP_DONE, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def step_done(self: Task, value: Any, run_id: str, raw_step: dict[str, Any]) -> None:
    _finish(self, run_id, raw_step, value=value)


@shared_task(name=STEP_FAILED, ignore_result=True)
def step_failed(request: Any, exc: BaseException, traceback: Any, run_id: str,
                raw_step: dict[str, Any]) -> None:
    """An errback, called by Celery in the worker where the task failed, after its own retries.
    (Not ``bind=True``: Celery calls only unbound errbacks with the request and the exception.)"""
    _finish(step_failed, run_id, raw_step, error=exc)
