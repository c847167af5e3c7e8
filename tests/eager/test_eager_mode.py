"""Celery's eager mode (``task_always_eager``): ``submit`` runs the workflow here, to its end, as
the memory backend with one worker would, and returns the finished run's handle. No Redis, no
broker: the app's broker is ``memory://`` and nothing is ever sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import graflow_celery
from graflow_celery import (
    Checkpoint,
    ConfigurationError,
    CycleLimitExceededError,
    InvalidRunIdError,
    NotImportableError,
    ParallelGroupError,
    TaskError,
    TaskWrapper,
    WorkflowCancelledError,
    WorkflowRun,
    parallel,
    task,
    workflow,
)
from graflow_celery.backends.celery.runtime import Runtime
from tests.conftest import Runner
from tests.contract import flows


@pytest.fixture
def eager_app() -> Iterator[Celery]:
    app = Celery("eager_tests", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    graflow_celery.install(app)
    yield app
    assert not redis_set_up_for(app)


def redis_set_up_for(app: Celery) -> bool:
    """Whether the app's Redis client and scripts were set up (Runtime.for_app)."""
    runtime = Runtime._by_app.get(id(app))
    return runtime is not None and runtime.app is app


def channel_of(channel: Any) -> dict[str, Any]:
    keys = channel.keys()  # a Channel, not a dict: no iteration of its own
    return {key: channel.get(key) for key in keys}


@task
def thread_name() -> str:
    return threading.current_thread().name


def group_retry_iteration():
    """A retried task, then a group whose member iterates, then a join."""
    with workflow("eager_group_retry_iteration") as wf:
        flows.flaky >> parallel(flows.counter, flows.ok_task, name="grp") >> flows.L["after"]
    return wf


def one_thread():
    with workflow("eager_one_thread") as wf:
        parallel(thread_name(task_id="t1"), thread_name(task_id="t2"), name="pair")
    return wf


SAME_AS_MEMORY = [group_retry_iteration, flows.lifecycle, flows.iteration, flows.nested_groups,
                  flows.dynamic_group, flows.diamond, flows.router_picks_a_branch, flows.hammering]


@pytest.mark.parametrize("make", SAME_AS_MEMORY, ids=lambda make: make.__name__)
def test_a_workflow_runs_eagerly_as_on_the_memory_backend(eager_app, make):
    expected, ctx = make().execute(max_workers=1, ret_context=True)
    run = graflow_celery.submit(make(), app=eager_app)
    assert run.status() == "completed"  # it ran inside submit
    assert run.result() == expected
    assert run.results() == ctx.results()
    assert channel_of(run.get_channel()) == channel_of(ctx.get_channel())
    assert run.progress() == ctx.store.progress()


@pytest.mark.parametrize("make, error", [
    (flows.cycle_limit, CycleLimitExceededError),
    (lambda: flows.policy_flow("strict"), ParallelGroupError),
    (lambda: flows.single(flows.hopeless), TaskError),
    (lambda: flows.control(flows.cancel_all), WorkflowCancelledError),
], ids=["cycle_limit", "strict_group", "retries_spent", "cancel"])
def test_a_workflow_fails_eagerly_as_on_the_memory_backend(eager_app, make, error):
    with pytest.raises(error) as in_memory:
        make().execute(max_workers=1)
    run = graflow_celery.submit(make(), app=eager_app)  # without task_eager_propagates: no raise
    assert run.status() == ("cancelled" if error is WorkflowCancelledError else "failed")
    with pytest.raises(error) as eagerly:
        run.result()
    assert str(eagerly.value) == str(in_memory.value)


def test_every_task_runs_in_the_thread_that_submits(eager_app):
    run = graflow_celery.submit(one_thread(), app=eager_app)
    here = threading.current_thread().name
    assert run.results() == {"t1": here, "t2": here, "pair": {"t1": here, "t2": here}}


def test_execute_on_the_celery_backend_runs_eagerly_too(eager_app):
    result, ctx = Runner("eager", max_workers=4, app=eager_app).execute(group_retry_iteration())
    expected, in_memory = group_retry_iteration().execute(max_workers=1, ret_context=True)
    assert result == expected
    assert channel_of(ctx.get_channel()) == channel_of(in_memory.get_channel())


def test_the_handle_of_an_eager_run(eager_app, tmp_path):
    run = graflow_celery.submit(flows.iteration(), app=eager_app)
    assert isinstance(run, WorkflowRun) and run.app is eager_app
    assert run.name == "iteration"
    assert run.wait(timeout=0) == "completed"
    assert run.result(timeout=0) == "after"
    assert run.get_result("counter") == 3
    assert run.get_result("nothing", "default") == "default"
    assert run.get_channel().get("log")[-1] == "after"
    assert run.progress() == (5, 5)
    assert run.cancel() is False  # it has finished
    assert run.status() == "completed"
    assert run.recover() == 0
    checkpoint = Checkpoint.load(run.checkpoint(str(tmp_path / "done.json")))
    assert checkpoint.metadata.session_id == run.id
    assert checkpoint.state.status == "completed"
    assert set(checkpoint.state.results) == set(run.results()) == {"counter", "after"}
    assert len(checkpoint.channel["log"].value) == 5
    assert repr(run) == f"WorkflowRun({run.id!r}, status='completed')"


def test_an_eager_run_cannot_be_reattached_by_id(eager_app):
    run = graflow_celery.submit(flows.pipeline(), app=eager_app)
    with pytest.raises(ConfigurationError, match=f"cannot re-attach to run '{run.id}'.*eagerly"):
        WorkflowRun(run.id, app=eager_app)
    with pytest.raises(ConfigurationError, match="eagerly"):
        graflow_celery.resume(run.id, app=eager_app)


def test_a_failed_eager_run_resumes_here_once_fixed(eager_app):
    error, expected, channel = Runner("memory", max_workers=1).fail_then_resume(
        flows.fails_in_a_group(), {"fixed": True})
    run = graflow_celery.submit(flows.fails_in_a_group(), app=eager_app)
    with pytest.raises(ParallelGroupError) as failed:
        run.result()
    assert str(failed.value) == str(error)
    run.get_channel().set("fixed", True)
    assert run.resume() is run
    assert run.status() == "completed"  # resumed inside resume()
    assert run.result() == expected
    assert run.get_channel().get("log") == channel.get("log")


def test_a_checkpoint_resumes_eagerly(eager_app, tmp_path):
    path = tmp_path / "after_mark.json"
    flows.checkpointed().execute(initial_channel={"checkpoint_path": str(path)})
    run = graflow_celery.resume(str(path), app=eager_app)
    assert run.status() == "completed"
    assert run.result() == 20
    assert run.get_channel().get("log") == ["first", "mark", "last"]  # what ran before did not again


def test_a_value_that_could_not_travel_fails_eagerly(eager_app):
    run = graflow_celery.submit(flows.single(flows.unserializable), app=eager_app)
    with pytest.raises(TaskError, match=r"SerializationError: cannot serialize .* builtins\.object"):
        run.result()


def test_with_a_pickle_key_values_travel_as_signed_pickle(eager_app):
    eager_app.conf.graflow_pickle_key = "a key of at least sixteen bytes"
    run = graflow_celery.submit(flows.single(flows.unserializable), app=eager_app)
    assert type(run.result()) is object


def test_a_task_workers_could_not_import_is_refused_before_anything_runs(eager_app):
    ran = []

    def local() -> None:
        ran.append(True)

    with workflow("eager_closure") as wf:
        wf.add(TaskWrapper("local", local))
    with pytest.raises(NotImportableError):
        graflow_celery.submit(wf, app=eager_app)
    assert ran == []


def test_run_ids_follow_the_same_rule(eager_app):
    assert graflow_celery.submit(flows.pipeline(), app=eager_app, run_id="order-42").id == "order-42"
    with pytest.raises(InvalidRunIdError):
        graflow_celery.submit(flows.pipeline(), app=eager_app, run_id="no spaces")


def test_with_eager_propagates_submit_raises_the_runs_error(eager_app):
    eager_app.conf.task_eager_propagates = True
    with pytest.raises(TaskError) as info:
        graflow_celery.submit(flows.single(flows.bad_task), app=eager_app)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(WorkflowCancelledError):  # a cancelled run's error too, as wf.execute() raises it
        graflow_celery.submit(flows.control(flows.cancel_all), app=eager_app)
    assert graflow_celery.submit(flows.pipeline(), app=eager_app).result() == 12
