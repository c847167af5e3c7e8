"""The run as one thing in Flower and Celery events: task events whose task id is the run id.

At submit, ``task-received`` and ``task-started`` (name: the workflow, args: a summary of the
inputs); when the run ends, ``task-succeeded``, ``task-failed`` or ``task-revoked`` - so the
"Root id" link of every step resolves to a record of the run with its final state. The start is
announced where Celery task events are on in the submitting process (``worker_send_task_events``
or ``task_send_sent_event``); the end is always sent, by the worker that ended the run (a worker
cannot tell whether it was started with ``-E``; one event per run costs next to nothing).
"""

from __future__ import annotations

import logging
import reprlib
import time
from typing import Any

from celery import Celery

from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.run_events")


def _enabled(app: Celery) -> bool:
    return bool(app.conf.worker_send_task_events or app.conf.task_send_sent_event)


def _send(app: Celery, *events: tuple[str, dict[str, Any]]) -> None:
    try:
        with app.events.default_dispatcher() as dispatcher:
            for kind, fields in events:
                dispatcher.send(kind, **fields)
    except Exception as exc:  # monitoring never stops a run
        logger.warning("could not send the run's task events: %s", describe(exc))


def run_started(app: Celery, run_id: str, workflow: str, inputs: dict[str, Any] | None) -> None:
    if not _enabled(app):
        return
    args = f"{workflow}({', '.join(f'{k}={reprlib.repr(v)}' for k, v in (inputs or {}).items())})"
    common = {"uuid": run_id, "root_id": run_id, "timestamp": time.time()}
    _send(app, ("task-received", {**common, "name": workflow, "args": args, "kwargs": "{}", "retries": 0,
                                  "eta": None, "expires": None, "parent_id": None}),
          ("task-started", common))


def run_finished(app: Celery, run_id: str, status: str, error: dict[str, Any] | None) -> None:
    fields: dict[str, Any] = {"uuid": run_id, "timestamp": time.time()}
    if status == "completed":
        _send(app, ("task-succeeded", {**fields, "result": "completed", "runtime": 0.0}))
    elif status == "cancelled":
        _send(app, ("task-revoked", {**fields, "terminated": False, "signum": None, "expired": False}))
    else:
        message = (error or {}).get("message", "failed")
        _send(app, ("task-failed", {**fields, "exception": message, "traceback": ""}))
