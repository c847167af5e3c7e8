"""The in-process executor never leaves execute() hanging."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from graflow_celery import Checkpoint, GraflowError, MemoryBackend, WorkflowInterruptedError, task, workflow
from graflow_celery.core.task import TaskWrapper


def exits() -> None:
    raise SystemExit(3)


def test_a_base_exception_in_a_worker_thread_ends_the_run():
    with workflow("exits") as wf:
        wf.add(TaskWrapper("exits", exits))
    with pytest.raises(GraflowError, match="SystemExit"):
        wf.execute(max_workers=2)


@task
def sleepy() -> str:
    time.sleep(5)  # ignores ctx.should_stop()
    return "woke"


def quick() -> str:
    return threading.current_thread().name


def test_a_backend_object_sets_how_runs_execute():
    with workflow("configured") as wf:
        wf.add(TaskWrapper("quick", quick))
    assert wf.execute(backend=MemoryBackend(max_workers=1)) == threading.current_thread().name


def test_shutdown_timeout_bounds_the_wait_for_a_task_that_does_not_stop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with workflow("stubborn") as wf:
        wf.add(sleepy)
    threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGINT)).start()
    began = time.monotonic()
    with pytest.raises(WorkflowInterruptedError) as info:
        wf.execute(backend=MemoryBackend(max_workers=2, shutdown_timeout=0.5))
    assert time.monotonic() - began < 3
    assert info.value.reason == "SIGINT"
    [step] = Checkpoint.load(info.value.checkpoint_path).state.frontier.values()
    assert step.node == "sleepy"  # it had not finished: a resumed run runs it again


def test_portable_with_a_backend_object_that_is_not_portable_is_refused():
    from graflow_celery import ConfigurationError

    with workflow("portable_object") as wf:
        wf.add(TaskWrapper("one", _one))
    with pytest.raises(ConfigurationError, match="give the backend portable=True"):
        wf.execute(backend=MemoryBackend(), portable=True)
    assert wf.execute(backend=MemoryBackend(portable=True), portable=True) == 1


def _one() -> int:
    return 1


def named_thread(name: str = "") -> str:
    time.sleep(0.02)  # long enough for the other members to be taken by other threads
    return threading.current_thread().name


def test_a_chain_stays_on_one_worker_thread_and_a_group_spreads_over_several():
    from graflow_celery import chain, parallel

    with workflow("one_thread_chain") as wf:
        chain(*[TaskWrapper(f"c{i}", named_thread) for i in range(5)])
    _, ctx = wf.execute("c0", max_workers=4, ret_context=True)
    assert len({ctx.get_result(f"c{i}") for i in range(5)}) == 1  # the next step ran where it was made ready

    with workflow("spread_group") as wf:
        parallel(*[TaskWrapper(f"g{i}", named_thread) for i in range(8)], name="wide")
    _, ctx = wf.execute(max_workers=4, ret_context=True)
    threads = {ctx.get_result(f"g{i}") for i in range(8)}
    assert 1 < len(threads) <= 4  # threads started for the queued members, up to max_workers
