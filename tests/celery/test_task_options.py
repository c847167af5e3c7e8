"""Task options in one value: validated when a task is defined, applied to its step messages on
real workers - time limits, expiry, routing by the step's shown name."""

from __future__ import annotations

import pytest

import graflow_celery
from graflow_celery import GraphDefinitionError, TaskError, task
from tests.support import celery_flows
from tests.support.workers import Worker


def noop() -> None:
    return None


@pytest.mark.parametrize("options, message", [
    ({"colour": "red"}, "unknown option(s) ['colour']"),
    ({"priority": 300}, "priority must be a whole number from 0 to 255"),
    ({"time_limit": -1}, "time_limit must be a positive number of seconds"),
    ({"soft_time_limit": 10, "time_limit": 5}, "soft_time_limit (10) must be below time_limit (5)"),
    ({"queue": ""}, "queue must be a non-empty string"),
])
def test_a_bad_option_is_refused_naming_the_task(options, message):
    with pytest.raises(GraphDefinitionError, match=r"task 'noop': .*" + message.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        task(**options)(noop)


def test_options_travel_with_the_graph_and_keep_the_task_id_copies():
    fast = task(priority=7, time_limit=30, countdown=1)(noop)
    copy = fast(task_id="again")
    assert copy.task_options == fast.task_options
    assert fast.task_options.message_options() == {"priority": 7, "time_limit": 30, "countdown": 1}


@pytest.fixture
def cluster(celery_workers):
    return celery_workers


def test_a_hard_time_limit_kills_the_step_and_the_run_records_why(cluster, celery_app):
    run = graflow_celery.submit(celery_flows.options_flow(celery_flows.overruns), app=celery_app)
    with pytest.raises(TaskError) as info:
        run.result(timeout=30)
    assert (info.value.task_id, info.value.error_type) == ("overruns", "TimeLimitExceeded")


def test_a_soft_time_limit_reaches_the_task_as_celerys_exception_and_is_retried(cluster, celery_app):
    run = graflow_celery.submit(celery_flows.options_flow(celery_flows.overruns_softly), app=celery_app)
    with pytest.raises(TaskError) as info:
        run.result(timeout=30)
    assert info.value.error_type == "SoftTimeLimitExceeded"


def test_task_routes_route_a_step_by_its_shown_name(cluster, celery_app, redis_server, worker_logs):
    special = Worker("special", redis_server.url, worker_logs, queues="special", concurrency=1).start()
    try:
        special.wait_ready()
        run = graflow_celery.submit(celery_flows.routed_by_name(), app=celery_app)
        assert run.wait(timeout=30) == "completed"
        assert run.get_result("where") in ("w1", "w2")
        assert run.get_result("where_routed") == "special"
    finally:
        special.stop()
