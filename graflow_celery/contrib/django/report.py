"""What the views say about a run: one dict, the JSON view's body and the run page's data."""

from __future__ import annotations

from typing import Any

from graflow_celery.backends.celery.run import WorkflowRun
from graflow_celery.core.steps import FINISHED
from graflow_celery.errors import GraflowError, SerializationError
from graflow_celery.redact import describe, redact

# What a person reads for each task state (the JSON keeps the state itself).
STATE_LABELS = {"pending": "pending", "executing": "running", "completed": "done", "failed": "failed",
                "skipped": "skipped", "waiting": "waiting for a person"}


def run_report(run: WorkflowRun) -> dict[str, Any]:
    """Status, progress (``lower_bound``: tasks added at run time may add steps), each task's
    state ("waiting" for a task whose request for feedback waits), results, the last result or
    the error, and the requests for feedback (``feedback``). The error is its type, task and
    one-line message - passwords in URLs masked, no traceback."""
    tasks: dict[str, str] = dict(run.task_states())
    status = run.status()  # after the task states: a run that ended meanwhile shows its end
    if status in FINISHED:  # and then its tasks as it ended, not as they were a moment before
        tasks = dict(run.task_states())
    seen = run.progress()
    feedback = feedback_report(run)
    for request in feedback["waiting"]:
        if tasks.get(request["task_id"]) in ("pending", "executing"):  # parked, or about to park
            tasks[request["task_id"]] = "waiting"
    report: dict[str, Any] = {
        "id": run.id, "workflow": run.name, "status": status, "finished": status in FINISHED,
        "progress": {"done": seen.done, "total": seen.total, "lower_bound": seen.lower_bound},
        "tasks": tasks, "result": None, "error": None, "feedback": feedback,
    }
    try:
        report["results"] = run.results()
    except SerializationError as exc:  # a type this process has not registered
        report["results"] = None
        report["results_error"] = describe(exc)
    if status == "completed":
        try:
            report["result"] = run.result(timeout=0)
        except SerializationError as exc:
            report["results_error"] = describe(exc)
    elif status in FINISHED:
        try:
            run.result(timeout=0)
        except GraflowError as exc:
            report["error"] = {"type": type(exc).__name__, "task_id": getattr(exc, "task_id", None),
                               "message": redact(str(exc))}
    return report


def feedback_report(run: WorkflowRun) -> dict[str, list[dict[str, Any]]]:
    """The run's requests waiting for a person (newest first), and its audit trail: each request
    answered (who, when, what, why) or timed out, in that order."""
    history = [{"feedback_id": e.feedback_id, "task_id": e.task_id, "feedback_type": e.feedback_type.value,
                "prompt": e.prompt, "outcome": e.outcome, "at": e.at, "value": e.value,
                "responded_by": e.responded_by, "reason": e.reason} for e in run.feedback_history()]
    return {"waiting": [r.to_dict() for r in run.pending_feedback()], "history": history}
