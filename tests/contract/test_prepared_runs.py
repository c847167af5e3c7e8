"""A run stored and not started (``prepare``, what ``submit_on_commit`` builds on): "pending"
until started, or "discarded" for good - on Redis and workers, and in process (an eager app,
whose runs live on the memory backend)."""

from __future__ import annotations

import pytest
from celery import Celery

import graflow_celery
from graflow_celery import (
    ConfigurationError,
    WorkflowCancelledError,
    WorkflowDiscardedError,
    WorkflowTimeoutError,
)
from graflow_celery.backends.celery.run import prepare
from tests.conftest import Runner
from tests.contract import flows

PIPELINE = {"load": "pending", "double": "pending", "total": "pending"}


@pytest.fixture
def app(runner: Runner) -> Celery:
    if runner.app is not None:
        return runner.app
    eager = Celery("prepared_runs_eager", broker="memory://", set_as_current=False)
    eager.conf.task_always_eager = True
    return graflow_celery.install(eager)


def test_a_prepared_run_is_pending_until_started(app):
    prepared = prepare(flows.pipeline(), app=app)
    run = prepared.handle
    assert run.status() == "pending"
    assert run.progress() == (0, 0)
    assert run.task_states() == PIPELINE
    with pytest.raises(WorkflowTimeoutError):
        run.wait(timeout=0.2)
    assert prepared.start() is run
    assert run.result(timeout=30) == 12
    assert prepared.discard("too late") is False
    assert run.status() == "completed"


def test_a_discarded_run_never_starts(app):
    prepared = prepare(flows.pipeline(), app=app)
    run = prepared.handle
    assert prepared.discard("the transaction rolled back") is True
    assert run.status() == "discarded"
    assert run.wait(timeout=5) == "discarded"
    with pytest.raises(WorkflowDiscardedError, match="discarded: the transaction rolled back") as info:
        run.result()
    assert isinstance(info.value, WorkflowCancelledError)  # code that handles cancelled runs covers it
    assert run.task_states() == dict.fromkeys(PIPELINE, "skipped")
    assert prepared.discard("again") is False
    assert run.cancel() is False
    assert run.status() == "discarded"
    with pytest.raises(WorkflowDiscardedError, match=r"the transaction rolled back \(run \w+ never starts\)"):
        prepared.start()
    assert run.status() == "discarded"
    assert run.progress() == (0, 0)


def test_a_run_starts_once(app):
    prepared = prepare(flows.pipeline(), app=app)
    run = prepared.start()
    assert run.result(timeout=30) == 12
    with pytest.raises(ConfigurationError, match=f"run {run.id} cannot start: it is completed already"):
        prepared.start()
    assert run.status() == "completed"
    assert run.progress() == (3, 3)
