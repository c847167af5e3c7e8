"""A ``from_celery`` task that fails reports to its run through its own app, also in a process
that holds several Celery apps (the errback used to send with ``current_app``)."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery, current_app

import graflow_celery
from graflow_celery import TaskError, from_celery, workflow
from graflow_celery.backends.celery.handoff import STEP_FAILED
from tests.support.app_tasks import explode


@pytest.fixture(autouse=True)
def _cluster(celery_workers):
    return celery_workers


def handed_off_first():
    with workflow("handed_off_first") as wf:
        wf.add(from_celery(explode))
    return wf


def test_a_failing_from_celery_task_of_the_second_app_fails_its_run(celery_app):
    # The run's first step waits in a queue no worker reads, so that this process, not a worker,
    # hands it off - in a process whose current app is another app.
    parked = f"parked-{uuid.uuid4().hex[:8]}"
    run = graflow_celery.submit(handed_off_first(), inputs={"x": 2}, app=celery_app, queue=parked)
    (step,) = run._store.frontier().values()
    token = run._store.hand_off(step.id, uuid.uuid4().hex)  # what the dispatcher records and sends
    errback = celery_app.signature(STEP_FAILED, args=(run.id, step.to_dict(), token))

    previous = current_app._get_current_object()
    Celery("another_app", broker="memory://", set_as_current=True)  # no worker reads its broker
    try:
        # Celery's own tracing runs the task and, when it raises, calls the errback, as a worker does.
        celery_app.tasks[explode.name].apply(args=(2,), link_error=errback)
    finally:
        previous.set_current()

    # The failure went out through celery_app's broker: its workers finished the step.
    with pytest.raises(TaskError, match="explode got 2") as info:
        run.result(timeout=30)
    assert info.value.task_id == "explode"
