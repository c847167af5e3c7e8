"""The in-process executor never leaves execute() hanging."""

from __future__ import annotations

import pytest

from graflow_celery import GraflowError, workflow
from graflow_celery.core.task import TaskWrapper


def exits() -> None:
    raise SystemExit(3)


def test_a_base_exception_in_a_worker_thread_ends_the_run():
    with workflow("exits") as wf:
        wf.add(TaskWrapper("exits", exits))
    with pytest.raises(GraflowError, match="SystemExit"):
        wf.execute(max_workers=2)
