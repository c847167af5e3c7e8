"""The task that wakes a parked step at its request's deadline (``feedback.py`` says why a message)."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from graflow_celery.backends.celery.feedback import DUE_TASK, wake_at
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.worker import retry_later, transient, valid_run_id
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.feedback")


@shared_task(name=DUE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=None)
def feedback_due(self: Task, run_id: str, key: str) -> None:
    """Send the step of request ``key`` again if its deadline passed without an answer (an answered
    one whose step did not run since is the deadline sweep's: it keeps watching it)."""
    if not valid_run_id(self, run_id):
        return
    runtime = Runtime.for_app(self.app)
    try:
        verdict, found = runtime.feedback(run_id).due(str(key))
        if verdict not in ("early", "due"):
            return
        context = runtime.context_for(run_id)
        if context is None:
            return
        if verdict == "early":
            wake_at(self.app, context, key, found)
        elif found is not None:
            logger.info("run %s: feedback %s:%s got no answer by its deadline; step %s (%s) runs again",
                        run_id, run_id, key, found.id, found.node)
            context.dispatcher.send(context, [found])
    except Exception as exc:
        if not transient(exc):
            raise
        logger.warning("run %s: Redis or the broker is unavailable (%s); the feedback wake-up is retried",
                       run_id, describe(exc))
        raise retry_later(self, countdown=min(2 ** self.request.retries, 30)) from exc
