"""Records graflow_celery's signals per run, for the tests: in Redis when GRAFLOW_TEST_REDIS_URL is
set (worker processes write there; database 1 of that server, away from the runs' keys), else in
this process. Imported by the test app's module."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

import redis

from graflow_celery import signals

LOCAL: dict[str, list[dict[str, Any]]] = defaultdict(list)


def _client(url: str) -> redis.Redis:
    """Database 1 of the server at ``url`` (the URL's own database number would win over db=)."""
    base, _, db = url.rpartition("/")
    return redis.Redis.from_url(f"{base}/1" if db.isdigit() else f"{url}/1")


def _key(run_id: str) -> str:
    return f"test-signals:{run_id}"


def _record(signal: str, run_id: str, **fields: Any) -> None:
    entry = {"signal": signal, **fields}
    url = os.environ.get("GRAFLOW_TEST_REDIS_URL")
    if url:
        _client(url).rpush(_key(run_id), json.dumps(entry))
    else:
        LOCAL[run_id].append(entry)


def recorded(run_id: str, redis_url: str | None = None) -> list[dict[str, Any]]:
    url = redis_url or os.environ.get("GRAFLOW_TEST_REDIS_URL")
    if url:
        return [json.loads(e) for e in _client(url).lrange(_key(run_id), 0, -1)]
    return list(LOCAL[run_id])


@signals.run_started.connect
def _run_started(sender: str, run_id: str, **kwargs: Any) -> None:
    _record("run_started", run_id, workflow=sender)


@signals.run_finished.connect
def _run_finished(sender: str, run_id: str, status: str, **kwargs: Any) -> None:
    _record("run_finished", run_id, status=status)


@signals.step_started.connect
def _step_started(sender: str, run_id: str, task_id: str, step_id: str, **kwargs: Any) -> None:
    _record("step_started", run_id, task_id=task_id, step_id=step_id)


@signals.step_finished.connect
def _step_finished(sender: str, run_id: str, task_id: str, step_id: str, outcome: str,
                   **kwargs: Any) -> None:
    _record("step_finished", run_id, task_id=task_id, step_id=step_id, outcome=outcome)


@signals.step_retrying.connect
def _step_retrying(sender: str, run_id: str, task_id: str, attempt: int, **kwargs: Any) -> None:
    _record("step_retrying", run_id, task_id=task_id, attempt=attempt)


@signals.group_judged.connect
def _group_judged(sender: str, run_id: str, group_id: str, success: bool, **kwargs: Any) -> None:
    _record("group_judged", run_id, group_id=group_id, success=success)


@signals.step_parked.connect
def _step_parked(sender: str, run_id: str, task_id: str, feedback_id: str, **kwargs: Any) -> None:
    _record("step_parked", run_id, task_id=task_id, feedback_id=feedback_id)


@signals.feedback_received.connect
def _feedback_received(sender: str, run_id: str, task_id: str, feedback_id: str, status: str,
                       **kwargs: Any) -> None:
    _record("feedback_received", run_id, task_id=task_id, feedback_id=feedback_id, status=status)
