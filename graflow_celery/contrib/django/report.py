"""What the views say about a run: one dict, the JSON view's body and the run page's data."""

from __future__ import annotations

from typing import Any

from graflow_celery.backends.celery.run import WorkflowRun
from graflow_celery.core.steps import FINISHED
from graflow_celery.errors import GraflowError, SerializationError
from graflow_celery.redact import describe, redact

# What a person reads for each task state (the JSON keeps the state itself).
STATE_LABELS = {"pending": "pending", "executing": "running", "completed": "done", "failed": "failed",
                "skipped": "skipped"}


def run_report(run: WorkflowRun) -> dict[str, Any]:
    """Status, progress (``lower_bound``: tasks added at run time may add steps), each task's
    state, results, the last result or the error. The error is
    its type, task and one-line message - passwords in URLs masked, no traceback."""
    tasks = run.task_states()
    status = run.status()  # after the task states: a run that ended meanwhile shows its end
    seen = run.progress()
    report: dict[str, Any] = {
        "id": run.id, "workflow": run.name, "status": status, "finished": status in FINISHED,
        "progress": {"done": seen.done, "total": seen.total, "lower_bound": seen.lower_bound},
        "tasks": tasks, "result": None, "error": None,
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
