"""Task handlers (``@task(handler=...)``) on every backend: ``process`` runs each run of a task in a
fresh process with the channel, the context and flow control working as in process; exceptions
keep their type and traceback; a killed process fails its task, and retries run it again; a
handler of the user's own is found by name where the step runs; an unknown name is refused."""

from __future__ import annotations

import os
import signal
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

from graflow_celery import ConfigurationError, RemoteError, TaskError, WorkflowCancelledError
from tests.contract import handler_flows as flows
from tests.support.wait import wait_for


def traceback_text(error: TaskError) -> str:
    """The task's traceback as the caller sees it: the rebuilt exception's in process, the stored
    text from Celery."""
    cause = error.__cause__
    if isinstance(cause, RemoteError):
        return cause.traceback_text
    assert cause is not None
    return "".join(traceback.format_exception(cause))


def test_a_process_task_runs_in_a_fresh_process_each_time(runner):
    result, ctx = runner.execute(flows.fresh_processes())
    step_pid = ctx.get_result("here")
    runs = [ctx.get_result("isolated_a"), *result]
    pids = [run["pid"] for run in runs]
    assert len(runs) == 4  # one task, then one task iterating three times
    assert len(set(pids)) == 4 and step_pid not in pids
    assert all(run["leaked"] == 1 for run in runs), "a process task saw state left by another run"


def test_arguments_and_results_cross_to_the_process_with_their_types(runner):
    result, _ = runner.execute(flows.values(), initial_channel={"note": "from the channel"})
    assert result == {"types": ["Decimal", "datetime", "set", "tuple"], "factor": 42,
                      "note": "FROM THE CHANNEL", "pair": (1, "a"), "tags": {"x", "y"}}


def test_the_channel_and_the_context_work_from_the_process(runner):
    result, ctx = runner.execute(flows.channel_use())
    # 3 processes x 10 locked read-modify-writes: no update lost
    assert result["counter"] == 30
    assert result["members"] == ["c1", "c2", "c3"]
    assert result["exists"] is True and result["missing"] == "default"
    assert sorted(result["group"].values()) == [1, 2, 3]  # atomic_add's return values
    assert result["task_id"] == "reader" and result["run_id"]
    assert ctx.get_channel().get("counter") == 30


def test_next_task_from_the_process_adds_a_task(runner):
    _, ctx = runner.execute(flows.dynamic())
    assert sorted(ctx.get_channel().get("log")) == ["after", "spawned", "spawner"]
    assert ctx.get_result("spawned") == "spawned"


def test_terminate_from_the_process_ends_the_run(runner):
    result, ctx = runner.execute(flows.terminating())
    assert result == "stopped"
    assert ctx.get_result("never") is None


def test_cancel_from_the_process_cancels_the_run(runner):
    with pytest.raises(WorkflowCancelledError) as info:
        runner.execute(flows.cancelling())
    assert info.value.message == "from its own process"
    assert info.value.task_id == "canceller"


def test_an_exception_in_the_process_keeps_its_type_and_traceback(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.raising())
    error = info.value
    assert error.task_id == "over_quota"
    assert error.error_type == "QuotaError"
    assert error.error_message == "ada is over the quota of 3"
    text = traceback_text(error)
    assert 'raise QuotaError("ada", 3)  # the line the traceback must show' in text
    assert "handler_flows.py" in text and "in over_quota" in text
    if runner.backend == "memory":  # the exception itself, attributes included
        assert isinstance(error.__cause__, flows.QuotaError)
        assert (error.__cause__.user, error.__cause__.limit) == ("ada", 3)


def test_a_result_that_cannot_leave_the_process_is_a_clear_error(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.unsendable_result())
    assert info.value.error_type == "SerializationError"
    assert "'unsendable'" in str(info.value) and "cannot leave its own process" in str(info.value)


def _run_and_kill(runner: Any, wf: Any, pid_dir: Path,
                  attempts_to_kill: int) -> tuple[Any, BaseException | None]:
    """Run ``wf`` in a thread; SIGKILL the task's process from here, ``attempts_to_kill`` times."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = runner.execute(wf, initial_channel={"pid_dir": str(pid_dir)})[0]
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    for attempt in range(attempts_to_kill):
        pid_file = pid_dir / f"attempt-{attempt}.pid"
        wait_for(f"the process of attempt {attempt}", pid_file.exists, timeout=60)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    thread.join(90)
    assert not thread.is_alive(), "the run did not end"
    return outcome.get("result"), outcome.get("error")


def test_a_killed_process_fails_its_task(runner, tmp_path):
    _, error = _run_and_kill(runner, flows.killed(), tmp_path, attempts_to_kill=1)
    assert isinstance(error, TaskError), error
    assert error.task_id == "doomed"
    assert error.error_type == "TaskProcessCrashed"
    assert "was killed by SIGKILL before it returned" in str(error)


def test_a_killed_process_is_retried_in_a_new_process(runner, tmp_path):
    result, error = _run_and_kill(runner, flows.killed_then_retried(), tmp_path, attempts_to_kill=1)
    assert error is None, error
    killed_pid = int((tmp_path / "attempt-0.pid").read_text())
    assert result["attempt"] == 1 and result["pid"] != killed_pid


def test_a_process_that_exits_fails_its_task_with_the_exit_code(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.exiting())
    assert info.value.task_id == "quitter"
    assert info.value.error_type == "TaskProcessCrashed"
    assert "exited with code 3 before it returned" in str(info.value)


def test_a_handler_registered_by_name_runs_the_task_where_the_step_runs(runner):
    result, _ = runner.execute(flows.user_handler())
    # graflow's way: the handler set the result on the context, and that is what flowed on
    assert result["value"] == 42 and result["handler"] == "tagging" and result["attempt"] == 0
    if runner.backend == "memory":
        assert result["pid"] == os.getpid()
    else:  # looked up by name in the worker, which registered it when it imported the tasks' module
        assert result["pid"] != os.getpid()


def test_an_unknown_handler_is_a_configuration_error_naming_task_and_handler(runner):
    with pytest.raises(ConfigurationError) as info:
        runner.execute(flows.unknown_handler())
    assert "task 'orphan' has handler='no_such_handler'" in str(info.value)
    assert "register_handler" in str(info.value)
