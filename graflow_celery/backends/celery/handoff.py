"""Finishing handed-off steps. A ``from_celery`` task's message carries a link callback
(``graflow_celery.step_done``) and an errback (``graflow_celery.step_failed``).

The errback is called directly, in the worker where the task failed, where nothing can be retried;
so it only turns the exception into an error record and sends it on as a message
(``graflow_celery.step_failed_msg``), which finishes the step like any other message.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, current_task, shared_task

from graflow_celery.backends.celery import run_events
from graflow_celery.backends.celery.worker import ENGINE, guarded, load_context, log_dropped, parse_step
from graflow_celery.core.admission import Dropped
from graflow_celery.core.errors_record import storable, task_failure

logger = logging.getLogger("graflow_celery.handoff")

STEP_DONE = "graflow_celery.step_done"
STEP_FAILED = "graflow_celery.step_failed"
STEP_FAILED_MSG = "graflow_celery.step_failed_msg"


def _finish(task: Task, run_id: Any, raw_step: Any, token: Any, value: Any = None,
            error: dict[str, Any] | None = None) -> None:
    step = parse_step(task, run_id, raw_step)
    if step is None:
        return
    context = load_context(task, run_id, step.node)
    if context is None:
        return
    with guarded(task, run_id, step.node):
        outcome = ENGINE.complete_handoff(context, step, token if isinstance(token, str) else None,
                                          value, error)
    if isinstance(outcome, Dropped):
        log_dropped(task, run_id, outcome)
    elif outcome is not None and outcome.ended is not None:
        run_events.run_finished(task.app, run_id, outcome.ended, outcome.error)


@shared_task(name=STEP_DONE, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=None)
def step_done(self: Task, value: Any, run_id: str, raw_step: dict[str, Any],
              token: str | None = None) -> None:
    _finish(self, run_id, raw_step, token, value=value)


@shared_task(name=STEP_FAILED_MSG, bind=True, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None)
def step_failed_msg(self: Task, record: dict[str, Any], run_id: str, raw_step: dict[str, Any],
                    token: str | None = None) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("message"), str):
        log_dropped(self, run_id, Dropped("malformed error record", suspicious=True))
        return
    error = {"kind": "task", "task_id": str(record.get("task_id")), "type": str(record.get("type")),
             "message": record["message"], "traceback": str(record.get("traceback", ""))}
    _finish(self, run_id, raw_step, token, error=error)


@shared_task(name=STEP_FAILED, ignore_result=True)
def step_failed(request: Any, exc: BaseException, traceback: Any, run_id: str,
                raw_step: dict[str, Any], token: str | None = None) -> None:
    """The errback (not ``bind=True``: Celery calls only unbound errbacks with the request and the
    exception). Celery has already spent the task's own retries.

    The message goes out through the failing task's app, whose broker and workers the run uses -
    not ``current_app``, which is another app in a process that holds several. Celery calls this
    errback as a task of that app: the failing task's result backend rebuilds the errback's
    signature with its own app and calls it (``_call_task_errbacks`` in celery/backends/base.py),
    and ``Task.__call__`` makes it the current task while it runs."""
    node = raw_step.get("node", "?") if isinstance(raw_step, dict) else "?"
    record = storable(task_failure(node, exc))
    app = current_task.app  # this errback, as registered on the failing task's app
    app.send_task(STEP_FAILED_MSG, args=(record, run_id, raw_step, token), ignore_result=True,
                  root_id=run_id)
