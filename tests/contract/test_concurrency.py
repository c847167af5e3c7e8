"""Independent ready tasks run at the same time; with one worker thread, order is FIFO."""

from __future__ import annotations

from tests.conftest import Runner
from tests.contract import flows


def test_independent_members_run_concurrently(runner):
    result, _ = runner.execute(flows.overlapping())
    assert result == {"r1": "r1", "r2": "r2"}


def test_one_worker_thread_runs_ready_steps_in_fifo_order():
    for _ in range(5):
        _, ctx = Runner("memory", max_workers=1).execute(flows.fifo_order())
        # a's successors are queued in edge order: the group (b, c), then d; e after the group
        assert ctx.get_channel().get("log") == ["a", "d", "b", "c", "e"]
