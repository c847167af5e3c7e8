"""Lifecycle events reach subscribers (here: graflow_celery.signals) once per transition, on
both backends; ``step_started`` once per execution attempt."""

from __future__ import annotations

import time
from collections import Counter

from tests.contract import flows
from tests.support.signal_recorder import recorded


def test_each_transition_is_reported_once(runner):
    result, ctx = runner.execute(flows.lifecycle())
    assert result == "after"
    deadline = time.monotonic() + 10  # the last events are written just after the run ended
    while not any(e["signal"] == "run_finished" for e in recorded(ctx.run_id)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    events = recorded(ctx.run_id)
    counts = Counter((e["signal"], e.get("task_id") or e.get("group_id") or e.get("status"),
                      e.get("outcome")) for e in events)
    assert counts == Counter({
        ("run_started", None, None): 1,
        ("step_started", "flaky", None): 3,
        ("step_retrying", "flaky", None): 2,
        ("step_finished", "flaky", "completed"): 1,
        ("step_started", "ok_task", None): 1,
        ("step_finished", "ok_task", "completed"): 1,
        ("step_started", "bad_task", None): 1,
        ("step_finished", "bad_task", "failed"): 1,
        ("group_judged", "grp", None): 1,
        ("step_started", "after", None): 1,
        ("step_finished", "after", "completed"): 1,
        ("run_finished", "completed", None): 1,
    })
    assert [e["attempt"] for e in events if e["signal"] == "step_retrying"] == [0, 1]
    assert events[0]["signal"] == "run_started" and events[-1]["signal"] == "run_finished"
