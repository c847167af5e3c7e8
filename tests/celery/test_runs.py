"""The Celery backend as a user meets it: submit, re-attach, progress, cancel, routing, scale."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
import redis

import graflow_celery
from graflow_celery import NotImportableError, TaskError, WorkflowRun
from graflow_celery.backends.celery.dispatcher import message_id
from tests.contract import flows
from tests.support import celery_flows
from tests.support.app_tasks import add
from tests.support.wait import wait_for, wait_until
from tests.support.workers import ROOT, Worker


@pytest.fixture(autouse=True)
def _cluster(celery_workers):
    return celery_workers


def test_submit_returns_at_once_and_the_run_can_be_waited_on(celery_app):
    run = graflow_celery.submit(flows.pipeline(), app=celery_app)
    assert run.status() in ("running", "completed")
    assert run.wait(timeout=30) == "completed"
    assert run.result() == 12
    assert run.results() == {"load": [1, 2, 3], "double": [2, 4, 6], "total": 12}
    assert run.progress() == (3, 3)


def test_a_registered_workflow_is_submitted_by_name_with_inputs(celery_app):
    celery_flows.echo_flow()
    run = graflow_celery.submit("echo", inputs={"value": 7}, app=celery_app)
    assert run.result(timeout=30) == 7


def test_submit_from_a_process_that_exits_then_reattach_by_id(celery_app, redis_server):
    script = textwrap.dedent("""
        from tests.support.celery_app import app
        from tests.contract import flows
        import graflow_celery
        run = graflow_celery.submit(flows.iteration(), app=app)
        print(run.id)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**os.environ, "GRAFLOW_TEST_REDIS_URL": redis_server.url,
                                         "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    run = WorkflowRun(done.stdout.strip().splitlines()[-1], app=celery_app)
    assert run.wait(timeout=30) == "completed"
    log = run.get_channel().get("log")
    assert log == ["counter:0:0", "counter:1:1", "counter:2:2", "counter:3:3", "after"]


def test_reattaching_to_an_unknown_run_is_a_clear_error(celery_app):
    with pytest.raises(graflow_celery.ConfigurationError, match="no run 'nope'"):
        WorkflowRun("nope", app=celery_app)


def test_the_apps_own_tasks_keep_working_beside_workflows(celery_app):
    run = graflow_celery.submit(flows.diamond(), app=celery_app)
    assert add.delay(2, 3).get(timeout=30) == 5
    assert run.wait(timeout=30) == "completed"


def test_an_existing_celery_task_is_a_step(celery_app):
    run = graflow_celery.submit(celery_flows.celery_step(), app=celery_app)
    assert run.result(timeout=30) == 43
    assert run.get_result("add") == 42


def test_an_existing_celery_task_failing_fails_the_step(celery_app):
    run = graflow_celery.submit(celery_flows.celery_step_failing(), app=celery_app)
    with pytest.raises(TaskError) as info:
        run.result(timeout=30)
    assert info.value.task_id == "explode"
    assert "explode got 2" in str(info.value)


def test_from_celery_runs_in_process_on_the_memory_backend():
    assert celery_flows.celery_step().execute() == 43


def test_two_concurrent_runs_of_one_workflow_do_not_see_each_other(celery_app):
    wf = flows.hammering(4)
    runs = [graflow_celery.submit(wf, app=celery_app) for _ in range(2)]
    for run in runs:
        assert run.wait(timeout=60) == "completed"
        assert run.get_channel().get("counter") == 4 * 25
        assert len(run.get_channel().get("items")) == 4 * 25
    assert runs[0].id != runs[1].id


def test_cancel_from_outside_ends_the_run_and_steps_not_started_never_run(celery_app, celery_workers,
                                                                           worker_logs):
    slots = sum(w.concurrency for w in celery_workers)  # naps that can run at once
    width = 4 * slots
    run = graflow_celery.submit(celery_flows.wide_naps(width), app=celery_app)
    wait_until(lambda: len(run.get_channel().get("marks", [])) > 1, 30, "a nap to start")
    assert run.cancel("user pressed stop")
    done_at_cancel = run.progress()[0]  # before, the group's launch (and any nap already applied)
    assert run.status() == "cancelled"
    with pytest.raises(graflow_celery.WorkflowCancelledError, match="user pressed stop"):
        run.result(timeout=5)
    # Every nap not applied yet is still on the frontier (cancel revoked exactly those messages):
    # wait until each has been handled - ran to its end, discarded as revoked, or dropped.
    pending = [message_id(run.id, step_id) for step_id in run._store.frontier()]
    assert len(pending) == width - (done_at_cancel - 2)

    def handled(mid: str) -> bool:
        logs = "".join(log.read_text(errors="replace") for log in worker_logs.glob("*.log"))
        mid = re.escape(mid)
        return re.search(rf"\[{mid}\] succeeded|Discarding revoked task: \S+\[{mid}\]|message {mid} for run",
                         logs) is not None

    wait_until(lambda: all(handled(mid) for mid in pending), 30, "every nap message to be handled")
    marks = run.get_channel().get("marks")
    naps = [m for m in marks if m.startswith("n")]
    assert marks[0] == "before" and "after" not in marks
    # only naps already running (or done) when the run was cancelled; the others never started
    assert 1 <= len(naps) <= slots + (done_at_cancel - 2) < width
    assert run.progress()[0] == done_at_cancel  # no transition after the cancel
    assert not run.cancel()  # already over


def test_steps_go_to_the_queue_their_task_names(celery_app, redis_server, worker_logs):
    special = Worker("special", redis_server.url, worker_logs, queues="special", concurrency=1).start()
    try:
        special.wait_ready()
        run = graflow_celery.submit(celery_flows.routing(), app=celery_app)
        assert run.wait(timeout=30) == "completed"
        assert run.get_result("where") in ("w1", "w2")
        assert run.get_result("where_special") == "special"
    finally:
        special.stop()


def test_a_task_workers_cannot_import_is_refused_before_anything_is_sent(celery_app, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    before = set(client.keys("gfc:*"))
    with pytest.raises(NotImportableError) as info:
        graflow_celery.submit(celery_flows.not_importable(), app=celery_app)
    assert info.value.task_ids == ["inner", "lam"]
    assert "defined inside a function" in str(info.value) and "a lambda" in str(info.value)
    assert set(client.keys("gfc:*")) == before


def test_a_1000_wide_group(celery_app):
    run = graflow_celery.submit(celery_flows.wide_group(1000), app=celery_app)
    assert run.result(timeout=120) == 1000
    assert len(run.get_result("wide")) == 1000


def test_a_workflow_of_1000_sequential_steps(celery_app):
    run = graflow_celery.submit(celery_flows.long_chain(1000), app=celery_app)
    assert run.result(timeout=180) == 999
    assert run.progress() == (1000, 1000)


def test_a_worker_that_lacks_a_tasks_module_fails_the_run_saying_so(celery_app, tmp_path, monkeypatch):
    (tmp_path / "only_here.py").write_text("def hello():\n    return 'hi'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here

    with graflow_celery.workflow("only_here") as wf:
        wf.add(graflow_celery.TaskWrapper("hello", only_here.hello))
    run = graflow_celery.submit(wf, app=celery_app)
    with pytest.raises(graflow_celery.ConfigurationError, match="No module named 'only_here'"):
        run.result(timeout=30)


def test_a_policy_workers_could_not_rebuild_is_refused_at_submit(celery_app):
    with pytest.raises(graflow_celery.GraphDefinitionError, match="policy Quorum cannot be rebuilt"):
        graflow_celery.submit(celery_flows.quorum_flow(), app=celery_app)


def test_a_task_added_at_run_time_that_workers_cannot_import_fails_its_parent_by_name(celery_app):
    run = graflow_celery.submit(celery_flows.lambda_at_run_time(), app=celery_app)
    with pytest.raises(TaskError) as info:
        run.result(timeout=30)
    assert info.value.task_id == "spawns_lambda"
    assert "anonymous: a lambda" in str(info.value)


def test_a_run_id_can_be_chosen_once(celery_app):
    run = graflow_celery.submit(flows.pipeline(), app=celery_app, run_id="order-42")
    assert run.id == "order-42" and run.result(timeout=30) == 12
    with pytest.raises(graflow_celery.ConfigurationError, match="a run with id 'order-42' already exists"):
        graflow_celery.submit(flows.pipeline(), app=celery_app, run_id="order-42")


def test_progress_knows_the_total_of_the_static_rest_of_the_graph(celery_app):
    run = graflow_celery.submit(celery_flows.gated(), app=celery_app)
    wait_for("the gate", lambda: run.get_channel().get("gate_waiting"))
    at_gate = run.progress()
    assert at_gate == (0, celery_flows.GATED_STEPS) and not at_gate.lower_bound
    run.get_channel().set("open", True)
    assert run.wait(timeout=30) == "completed"
    assert run.progress() == (celery_flows.GATED_STEPS, celery_flows.GATED_STEPS)


def test_progress_is_a_lower_bound_once_tasks_were_added_at_run_time(celery_app):
    run = graflow_celery.submit(celery_flows.spawning(), app=celery_app)
    wait_for("the spawned task", lambda: run.get_channel().get("spawned_waiting"))
    seen = run.progress()
    assert seen.lower_bound and seen.total >= seen.ready > seen.done
    run.get_channel().set("release", True)
    assert run.wait(timeout=30) == "completed"
    assert not run.progress().lower_bound
