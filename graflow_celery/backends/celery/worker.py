"""The one Celery task that runs workflow steps. Every worker of the app can take any step."""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import Task, shared_task
from celery.exceptions import Ignore, Reject, Retry, TimeLimitExceeded
from kombu.exceptions import BatchPublishError, OperationalError
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)

from graflow_celery.backends.celery import feedback, run_events
from graflow_celery.backends.celery.dispatcher import RELAY_TASK, STEP_TASK
from graflow_celery.backends.celery.keys import check_run_id
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.core.admission import Dropped
from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.engine import Finished, Interrupted, RetryRequest, WorkflowEngine
from graflow_celery.core.errors_record import masked_step_failure, to_exception
from graflow_celery.core.feedback_store import Parked
from graflow_celery.core.steps import Step
from graflow_celery.errors import InvalidRunIdError
from graflow_celery.redact import describe, exception_traceback

logger = logging.getLogger("graflow_celery.worker")

ENGINE = WorkflowEngine()


def valid_run_id(task: Task, run_id: Any) -> bool:
    """Whether a message names a run id that can exist (logged and dropped if not)."""
    try:
        check_run_id(run_id)
    except InvalidRunIdError as exc:
        log_dropped(task, run_id, Dropped(str(exc), suspicious=True))
        return False
    return True


def parse_step(task: Task, run_id: Any, raw: Any) -> Step | None:
    """The step of a message, or None (logged) if the message is malformed."""
    if not valid_run_id(task, run_id):
        return None
    try:
        return Step.from_dict(raw)
    except ValueError as exc:
        log_dropped(task, run_id, Dropped(f"malformed step {_short(raw)}: {exc}", suspicious=True))
        return None


def log_dropped(task: Task, run_id: Any, dropped: Dropped) -> None:
    """One line per message that does nothing, with the message id and the reason: a warning when
    the message cannot have come from the run as it is (forged, or from another deploy)."""
    level = logging.WARNING if dropped.suspicious else logging.INFO
    logger.log(level, "dropping %s message %s for run %s: %s", task.name, task.request.id, _short(run_id),
               dropped.reason)


def _short(value: Any) -> str:
    return reprlib.repr(value)


# Redis (run state) or the broker unavailable for now - unreachable, loading its data, a replica
# or a cluster failing over, out of memory: the message should be tried again later. Redis refuses
# a Lua script's writes as a whole, so a refused transition changed nothing.
RETRYABLE: tuple[type[BaseException], ...] = (
    redis.ConnectionError, redis.TimeoutError, BusyLoadingError, ReadOnlyError, TryAgainError,
    ClusterDownError, MasterDownError, OutOfMemoryError,
    OperationalError, BatchPublishError, ConnectionError,
)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis or the broker refusing work for now: one of RETRYABLE, or a master
    with fewer replicas than its ``min-replicas-to-write`` (NOREPLICAS, which redis-py raises as a
    plain ResponseError, prefixed with the command when it comes from a pipeline)."""
    if isinstance(exc, RETRYABLE):
        return True
    text = str(exc) if isinstance(exc, redis.ResponseError) else ""
    return text.startswith("NOREPLICAS ") or " of pipeline caused error: NOREPLICAS " in text


def retry_later(task: Task, throw: bool = True, **options: Any) -> Retry:
    """``task.retry``, and when the broker cannot even take the retry message, leave this message
    to be delivered again (requeue, or the visibility timeout) instead of dropping it."""
    try:
        return task.retry(max_retries=None, throw=throw, **options)
    except Reject as rejected:
        raise Reject(rejected.reason, requeue=True) from None


@contextmanager
def guarded(task: Task, run_id: str, step_node: str, loading: bool = False) -> Iterator[None]:
    """Around everything a message handler does outside user code: an unreachable Redis or broker
    means "try this message again later"; anything else ends the run with the reason, instead of
    losing the message and leaving the run waiting forever. ``loading``: the failure is this
    worker's setup (a module it lacks, a missing pickle key), reported as a ConfigurationError."""
    try:
        yield
    except (Retry, Reject, Ignore):  # Celery's own control flow, not a failure
        raise
    except Exception as exc:
        if transient(exc):
            logger.warning("run %s: Redis or the broker is unavailable (%s); retrying the message", run_id,
                           describe(exc))
            raise retry_later(task, countdown=min(2 ** task.request.retries, 30)) from exc
        doing = "cannot load" if loading else "failed on"
        message = f"worker {task.request.hostname} {doing} run {run_id}: {describe(exc)}"
        logger.error("%s\n%s", message, exception_traceback(exc))  # not .exception: the text is redacted
        try:
            Runtime.for_app(task.app).fail_run(run_id, {"kind": "config" if loading else "internal",
                                                         "message": message, "task_id": step_node})
        except Exception as down:
            if not transient(down):
                raise
            # cannot even record the failure: try the whole message later
            raise retry_later(task, countdown=min(2 ** task.request.retries, 30)) from down
        raise Ignore() from exc  # the run has failed; this message is done


def load_context(task: Task, run_id: str, step_node: str) -> ExecutionContext | None:
    """The run's context for a message handler, or None (logged) if the run is unknown or expired."""
    with guarded(task, run_id, step_node, loading=True):
        context = Runtime.for_app(task.app).context_for(run_id)
    if context is None:
        log_dropped(task, run_id, Dropped("the run is unknown or expired"))
    return context


class StepTask(Task):  # type: ignore[misc]
    """The step task's class: a step killed by its hard time limit is failed, saying so."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if isinstance(exc, TimeLimitExceeded) and isinstance(args, list | tuple) and len(args) == 2:
            fail_from_outside(self, args[0], args[1], "TimeLimitExceeded",
                              f"the step ran past its time limit ({exc}) and was killed")


def fail_from_outside(task: Task, run_id: Any, raw_step: Any, error_type: str, message: str) -> None:
    """Record the failure of a step stopped outside its task (killed by its time limit)."""
    step = parse_step(task, run_id, raw_step)
    context = load_context(task, run_id, step.node) if step is not None else None
    if step is None or context is None:
        return
    record = {"kind": "task", "task_id": step.node, "type": error_type, "message": message, "traceback": ""}
    with guarded(task, run_id, step.node):
        outcome = ENGINE.fail_step(context, step, record)
    if isinstance(outcome, Dropped):
        log_dropped(task, run_id, outcome)
    elif outcome is not None and outcome.ended is not None:
        run_events.run_finished(task.app, run_id, outcome.ended, record)


@shared_task(name=STEP_TASK, bind=True, base=StepTask, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=None)
def run_step(self: Task, run_id: str, raw_step: dict[str, Any]) -> Any:
    """Runs one step. Its Celery state tells the truth: FAILURE (with the task's exception) for a
    step that failed, REVOKED for one that cancelled the run, its return value as the result."""
    step = parse_step(self, run_id, raw_step)
    if step is None:
        return None
    context = load_context(self, run_id, step.node)
    if context is None:
        return None
    retry: Retry | None = None
    store = context.store
    if isinstance(store, RedisRunStore):
        store.lease_at_begin = True  # the lease is taken in the same round trip as the step's reads
    try:
        with guarded(self, run_id, step.node):
            outcome = ENGINE.run_step(context, step)
            if isinstance(outcome, RetryRequest):  # recorded on the frontier: send it, say it was sent
                retry = retry_later(self, args=(run_id, outcome.step.to_dict()), countdown=outcome.delay,
                                    exc=describe(outcome.error), throw=False)  # Celery logs it: redacted
                context.store.ack_outbox(step.id, retry=True)
            elif isinstance(outcome, Parked):  # waits for a person: this worker is free now
                feedback.parked(self, context, outcome)
            elif isinstance(outcome, Dropped):
                log_dropped(self, run_id, outcome)
    finally:
        if isinstance(store, RedisRunStore):
            store.release_unused()
    if retry is not None:
        raise retry
    if isinstance(outcome, Interrupted):  # the worker is shutting down: another one runs the step
        if isinstance(store, RedisRunStore):  # watched again: kombu's requeue is not atomic either
            with guarded(self, run_id, step.node):
                store.watch([step])
        raise Reject(f"step {step.id} stopped for the worker's shutdown", requeue=True)
    if isinstance(outcome, Parked):  # not finished: acknowledged without a success event, so Flower
        raise Ignore()  # keeps the PARKED state its task-parked event set (parked_states.py)
    if isinstance(outcome, Finished):
        return report(self, outcome, run_id)
    return None


def report(task: Task, outcome: Finished, run_id: str) -> Any:
    """The Celery outcome of a step whose transition this delivery applied."""
    if outcome.ended is not None:
        run_events.run_finished(task.app, run_id, outcome.ended, outcome.error)
    if outcome.kind == "cancelled":
        task.send_event("task-revoked", terminated=False, signum=None, expired=False)
        raise Ignore()
    if outcome.kind == "failed" and outcome.error is not None:
        # Not the task's own exception: Celery would log it, store it and send it to Flower as it is,
        # passwords included. Its stand-in shows as the same type, with the masked texts.
        record = outcome.error
        error = masked_step_failure(record) if record["kind"] == "task" else to_exception(record)
        raise error from None
    return outcome.value


@shared_task(name=RELAY_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=None)
def send_steps(self: Task, run_id: str, raw_steps: list[dict[str, Any]]) -> None:
    """Publish steps another worker handed over (part of a wide fan-out) - only those the run's
    frontier holds. Sending a step twice is harmless: its transition is applied once."""
    if not valid_run_id(self, run_id):
        return
    if not isinstance(raw_steps, list) or not raw_steps:
        log_dropped(self, run_id, Dropped(f"malformed step list {_short(raw_steps)}", suspicious=True))
        return
    steps = [parse_step(self, run_id, raw) for raw in raw_steps]
    context = load_context(self, run_id, "(fan-out)")
    if context is None:
        return
    with guarded(self, run_id, "(fan-out)"):
        for dropped in ENGINE.relay(context, [s for s in steps if s is not None]):
            log_dropped(self, run_id, dropped)
