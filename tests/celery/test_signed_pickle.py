"""Opt-in signed pickle: closures and values JSON cannot carry travel, forged payloads do not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from celery import Celery

import graflow_celery
from graflow_celery import TaskWrapper, workflow
from tests.support.workers import Worker

KEY = "test-pickle-key-0123456789abcdef"


class Point:  # a plain class: not JSON, fine for pickle
    def __init__(self, x: int) -> None:
        self.x = x


@pytest.fixture
def pickling_app(redis_server, worker_logs) -> Iterator[Celery]:
    app = Celery("pickled", broker=redis_server.url, set_as_current=False)
    app.conf.graflow_pickle_key = KEY
    graflow_celery.install(app)
    worker = Worker("pickler", redis_server.url, worker_logs, queues="pickled",
                    extra_env={"GRAFLOW_TEST_PICKLE_KEY": KEY}).start()
    try:
        worker.wait_ready()
        yield app
    finally:
        worker.stop()


def closure_workflow(offset: int):
    def make_point() -> Point:
        return Point(40)

    def shift(make_point: Point) -> int:
        return make_point.x + offset

    with workflow(f"closures-{uuid.uuid4().hex[:6]}") as wf:
        TaskWrapper("make_point", make_point) >> TaskWrapper("shift", shift)
    return wf


def test_closures_and_plain_objects_run_when_signed_pickle_is_enabled(pickling_app):
    run = graflow_celery.submit(closure_workflow(2), app=pickling_app, queue="pickled")
    assert run.result(timeout=30) == 42
    assert isinstance(run.get_result("make_point"), Point)


def test_the_same_workflow_is_refused_without_a_key(celery_workers, celery_app):
    with pytest.raises(graflow_celery.NotImportableError, match="defined inside a function"):
        graflow_celery.submit(closure_workflow(2), app=celery_app)


def test_a_worker_without_the_key_fails_the_run_saying_why(pickling_app, celery_workers):
    run = graflow_celery.submit(closure_workflow(1), app=pickling_app)  # default queue: keyless workers
    with pytest.raises(graflow_celery.ConfigurationError, match="uses the 'signed-pickle' serializer"):
        run.result(timeout=30)
    assert run.status() == "failed"
    assert run.results() == {}  # nothing ran


def add_bound(point: Point, more: int = 2) -> int:
    return point.x + more


def bound_point_workflow():
    with workflow(f"bound-point-{uuid.uuid4().hex[:6]}") as wf:
        TaskWrapper("add_bound", add_bound, bound_kwargs={"point": Point(40)})
    return wf


def test_bound_arguments_travel_with_the_runs_serializer(pickling_app):
    run = graflow_celery.submit(bound_point_workflow(), app=pickling_app, queue="pickled")
    assert run.result(timeout=30) == 42


def test_a_bound_argument_json_cannot_carry_is_refused_at_submit(celery_workers, celery_app):
    with pytest.raises(graflow_celery.BoundArgumentError, match="task 'add_bound': bound argument 'point'"):
        graflow_celery.submit(bound_point_workflow(), app=celery_app)


def test_an_in_process_checkpoint_of_python_objects_resumes_on_workers_with_signed_pickle(
        pickling_app, tmp_path):
    from tests.conftest import Runner
    from tests.contract import value_flows

    path = tmp_path / "gadget.json"
    Runner("memory-objects").execute(value_flows.checkpointed_gadget(),
                                     initial_channel={"checkpoint_path": str(path)})
    run = graflow_celery.resume(str(path), app=pickling_app, queue="pickled")
    assert run.result(timeout=30) == 42
    assert isinstance(run.get_result("make_gadget"), value_flows.Gadget)  # signed with the app's key
    assert isinstance(run.get_channel().get("gadget"), value_flows.Gadget)
