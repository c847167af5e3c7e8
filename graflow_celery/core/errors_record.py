"""Failures as plain data (so they can be stored in Redis) and back into typed errors.

A record's texts are safe to store and show: passwords in URLs are masked (``redact``), and an
exception whose ``__str__`` raises is recorded as ``<unprintable Type>``.
"""

from __future__ import annotations

from typing import Any

from graflow_celery.errors import (
    ConfigurationError,
    CycleLimitExceededError,
    GraflowError,
    MaxStepsExceededError,
    ParallelGroupError,
    RemoteError,
    RetryLimitExceededError,
    StepFailed,
    TaskError,
    WorkflowCancelledError,
    WorkflowDiscardedError,
)
from graflow_celery.redact import exception_message, exception_traceback, redact


def task_failure(task_id: str, exc: BaseException, retries: int = 0, max_retries: int = 0) -> dict[str, Any]:
    """``retries``: how many retries the task had had when it failed for good."""
    if isinstance(exc, CycleLimitExceededError):
        return {"kind": "cycle", "task_id": exc.task_id, "cycle_count": exc.cycle_count,
                "max_cycles": exc.max_cycles, "message": exception_message(exc)}
    if isinstance(exc, ParallelGroupError):
        return group_failure(exc)
    return {
        "kind": "task",
        "task_id": task_id,
        "type": type(exc).__name__,
        "message": exception_message(exc),
        "traceback": exception_traceback(exc),
        "exception": exc,  # kept in memory only; a Redis store drops it
        **({"retries": retries, "max_retries": max_retries} if retries else {}),
    }


def masked_step_failure(record: dict[str, Any]) -> StepFailed:
    """A task's failure as an exception whose every text is the record's, so masked: its type and
    message, and its traceback as a note (a formatted traceback prints it after the exception)."""
    err = StepFailed(record["task_id"], record["type"], record["message"])
    if record.get("traceback"):
        err.add_note(f"The task's own traceback, passwords masked:\n{record['traceback'].rstrip()}")
    return err


def group_failure(exc: ParallelGroupError) -> dict[str, Any]:
    return {"kind": "group", "group_id": exc.group_id, "policy": exc.policy,
            "failed": [[task_id, redact(str(message))] for task_id, message in exc.failed_tasks],
            "succeeded": exc.successful_tasks, "reason": redact(str(exc.reason)),
            "message": exception_message(exc)}


def short_message(record: dict[str, Any]) -> str:
    """One line for a group member's failure: which task, which error."""
    if record["kind"] == "task":
        return f"{record['task_id']}: {record['type']}: {record['message']}"
    return record["message"]


def to_exception(record: dict[str, Any]) -> GraflowError:
    kind = record["kind"]
    if kind == "task":
        cause = record.get("exception") or RemoteError(record["type"], record["message"],
                                                       record.get("traceback", ""))
        err: TaskError
        if record.get("retries"):
            err = RetryLimitExceededError(record["task_id"], record["retries"], record["max_retries"], cause,
                                          error_type=record["type"], error_message=record["message"])
        else:
            err = TaskError(record["task_id"], record["type"], record["message"])
        err.__cause__ = cause
        return err
    if kind == "group":
        return ParallelGroupError(record["group_id"], record["policy"],
                                  [tuple(f) for f in record["failed"]], record["succeeded"],
                                  reason=record.get("reason", ""))
    if kind == "cycle":
        return CycleLimitExceededError(record["task_id"], record["cycle_count"], record["max_cycles"])
    if kind == "max_steps":
        return MaxStepsExceededError(record["max_steps"], record["task_id"])
    if kind == "discarded":
        return WorkflowDiscardedError(record["message"])
    if kind == "cancelled":
        return WorkflowCancelledError(record["message"], record.get("task_id"))
    if kind == "config":
        return ConfigurationError(record["message"])
    return GraflowError(record.get("message", f"run failed ({kind})"))


def storable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "exception"}
