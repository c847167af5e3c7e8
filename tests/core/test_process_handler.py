"""The ``process`` handler's own guarantees, in process: the conversation survives what a task does
with stdin and stdout, code that cannot be imported goes by value, a subclass can start the child
through a launcher (as a Docker handler would), a forked child gets the environment of the moment,
and the child never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from graflow_celery import (
    ProcessTaskHandler,
    TaskCall,
    TaskError,
    TaskWrapper,
    WorkflowEngine,
    task,
    workflow,
)
from graflow_celery.core.context import ExecutionContext
from tests.support.wait import wait_for, wait_until


@task(inject_context=True, handler="process")
def asks_from_its_process(ctx: Any) -> bool:
    return bool(ctx.request_approval("ok?", timeout=5))


def test_asking_for_feedback_in_a_process_task_fails_it_saying_why():
    with workflow("asks_in_process") as wf:
        wf.add(asks_from_its_process)
    with pytest.raises(TaskError) as failed:
        wf.execute()
    assert "request_feedback is not available in a task with handler='process'" in str(failed.value)


@task(handler="process")
def noisy() -> dict[str, Any]:
    print("x" * 200_000)  # far more than a pipe holds
    return {"stdin": sys.stdin.read(), "pid": os.getpid()}


def test_what_the_task_prints_or_reads_does_not_touch_the_conversation(capfd):
    with workflow("noisy") as wf:
        wf.add(noisy)
    result = wf.execute()
    assert result["stdin"] == "" and result["pid"] != os.getpid()
    assert "x" * 200_000 in capfd.readouterr().err  # the task's stdout went to stderr


def test_a_closure_runs_in_its_process_by_value():
    offset = 5

    def add_offset(value: int) -> tuple[int, int]:
        return value + offset, os.getpid()

    with workflow("closure") as wf:
        wf.add(TaskWrapper("add_offset", add_offset, handler="process", bound_kwargs={"value": 1}))
    total, pid = wf.execute()
    assert total == 6 and pid != os.getpid()


class Launched(ProcessTaskHandler):
    """The seam a Docker handler uses: the child is started by another program that passes stdin
    and stdout through (``docker run -i IMAGE python -m ...`` in real life; ``env`` here)."""

    def command(self, task: TaskCall) -> list[str]:
        return ["env", f"LAUNCHED_FOR={task.task_id}", *super().command(task)]


def launched_for() -> str:
    return os.environ["LAUNCHED_FOR"]


def test_a_subclass_can_start_the_child_through_a_launcher():
    with workflow("launched") as wf:
        wf.add(TaskWrapper("launched_for", launched_for, handler="launcher"))
    engine = WorkflowEngine()
    engine.register_handler("launcher", Launched())
    assert engine.execute(ExecutionContext.create(wf.graph)) == "launched_for"


PARENT = textwrap.dedent("""
    import os, time
    from graflow_celery import task, workflow

    @task(handler="process")
    def forever() -> None:
        with open(os.environ["CHILD_PID_FILE"], "w") as out:
            out.write(str(os.getpid()))
        time.sleep(300)

    with workflow("forever") as wf:
        wf.add(forever)
    wf.execute()
""")


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # ended, waiting for init to reap it


def test_the_child_ends_when_the_process_that_started_it_dies(tmp_path):
    script, pid_file = tmp_path / "parent.py", tmp_path / "child.pid"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path),
           "CHILD_PID_FILE": str(pid_file)}
    parent = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        child = int(wait_for("the task's process", lambda: pid_file.exists() and pid_file.read_text(), 60))
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: _gone(child), 10, "the orphaned child to end")
    finally:
        parent.kill()
        parent.wait()


def environment_of_child(name: str) -> tuple[str | None, str, int]:
    return os.environ.get(name), os.getcwd(), os.getpid()


def test_a_forked_child_sees_the_environment_and_directory_of_now(tmp_path, monkeypatch):
    """The fork server started earlier; what the child gets is what this process has when the
    task runs."""
    with workflow("env_now") as wf:
        wf.add(TaskWrapper("env", environment_of_child, handler="process",
                           bound_kwargs={"name": "GRAFLOW_SET_LATER"}))
    wf.execute()  # the fork server is running now
    monkeypatch.setenv("GRAFLOW_SET_LATER", "yes")
    monkeypatch.chdir(tmp_path)
    value, cwd, pid = wf.execute()
    assert (value, cwd) == ("yes", str(tmp_path)) and pid != os.getpid()


def crashes_after_using_the_channel(ctx: Any) -> None:
    ctx.get_channel().set("before_exit", ctx.task_id)
    os._exit(4)


def test_a_spawned_child_talks_and_crashes_like_a_forked_one():
    with workflow("spawned") as wf:
        wf.add(TaskWrapper("spawned", crashes_after_using_the_channel, handler="spawning",
                           inject_context=True))
    engine = WorkflowEngine()
    engine.register_handler("spawning", ProcessTaskHandler(start="spawn"))
    context = ExecutionContext.create(wf.graph)
    with pytest.raises(TaskError, match="exited with code 4 before it returned"):
        engine.execute(context)
    assert context.get_channel().get("before_exit") == "spawned"
