"""The one Celery task that runs workflow steps. Every worker of the app can take any step."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task, shared_task

from graflow_celery.backends.celery.dispatcher import RELAY_TASK, STEP_TASK
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.steps import Step
from graflow_celery.errors import GraflowError

logger = logging.getLogger("graflow_celery.worker")

ENGINE = WorkflowEngine()


def parse_step(run_id: Any, raw: Any) -> Step | None:
    """The step of a message, or None (logged) if the message is malformed."""
    try:
        if not isinstance(run_id, str) or not run_id or not isinstance(raw, dict):
            raise TypeError("expected (run_id: str, step: dict)")
        step = Step.from_dict(raw)
        step.number  # noqa: B018 - the id must be a sequence number
        return step
    except (KeyError, TypeError, ValueError) as exc:
        logger.error("dropping a malformed %s message (run_id=%r, step=%r): %s", STEP_TASK, run_id, raw, exc)
        return None


@shared_task(name=STEP_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=None)
def run_step(self: Task, run_id: str, raw_step: dict[str, Any]) -> None:
    step = parse_step(run_id, raw_step)
    if step is None:
        return
    runtime = Runtime.for_app(self.app)
    try:
        context = runtime.context_for(run_id)
    except (GraflowError, ImportError, AttributeError) as exc:
        # This worker cannot load the run (missing module, missing pickle key): say so in the run
        # instead of leaving it waiting for a step that will never finish.
        message = f"worker {self.request.hostname} cannot load run {run_id}: {type(exc).__name__}: {exc}"
        logger.error(message)
        runtime.fail_run(run_id, {"kind": "config", "message": message, "task_id": step.node})
        return
    if context is None:
        logger.warning("run %s is unknown or expired; step %s (%s) does nothing", run_id, step.id, step.node)
        return
    try:
        retry = ENGINE.run_step(context, step)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # The state store is unreachable: the step did not happen; try it again later.
        logger.warning("run %s step %s: Redis unavailable (%s); retrying", run_id, step.id, exc)
        raise self.retry(countdown=min(2 ** self.request.retries, 30), max_retries=None) from exc
    except Exception as exc:  # a bug or corrupt state: end the run loudly rather than hang it
        logger.exception("run %s step %s (%s) failed outside the task", run_id, step.id, step.node)
        context.store.fail({"kind": "internal", "message": f"{type(exc).__name__}: {exc}",
                            "task_id": step.node})
        return
    if retry is not None:
        again = Step(**{**retry.step.__dict__, "attempt": retry.step.attempt + 1})
        raise self.retry(args=(run_id, again.to_dict()), countdown=retry.delay, exc=retry.error,
                         max_retries=None)


@shared_task(name=RELAY_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_steps(self: Task, run_id: str, raw_steps: list[dict[str, Any]]) -> None:
    """Publish steps another worker handed over (part of a wide fan-out). Sending a step twice is
    harmless: its transition is applied once."""
    steps = [parse_step(run_id, raw) for raw in raw_steps] if isinstance(raw_steps, list) else [None]
    if any(step is None for step in steps):
        logger.error("dropping a malformed %s message for run %r", RELAY_TASK, run_id)
        return
    context = Runtime.for_app(self.app).context_for(run_id)
    if context is None or context.store.status() != "running":
        return
    context.dispatcher.send(context, [s for s in steps if s is not None])
