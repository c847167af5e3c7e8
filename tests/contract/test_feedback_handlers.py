"""``request_feedback(..., handler=...)`` on every backend: a handler is told once that its request
was made and once of its outcome (answered or timed out), however often the step runs - on Celery
a parked step runs again from its start, once per answer. A handler that raises does not fail the
task. The handlers of ``feedback_flows.py`` write what they are told to the run's channel ("told")."""

from __future__ import annotations

from pathlib import Path

from graflow_celery.core.run_handle import RunHandle
from tests.conftest import Runner
from tests.contract import feedback_flows as ff
from tests.contract.test_feedback import resume, start, waiting
from tests.support.wait import wait_for


def told(run: RunHandle) -> list[str]:
    return run.get_channel().get("told", [])


def runs(runner: Runner, on_celery: int) -> int:
    """How often the asking step runs: once in process (its task waits), else once per park + 1."""
    return 1 if runner.app is None else on_celery


def next_request(run: RunHandle, prompt: str):
    return wait_for(f"the request {prompt!r}", lambda: next(
        (r for r in run.pending_feedback() if r.prompt == prompt), None))


def test_a_handler_is_told_of_the_request_once_and_of_its_answer_once(runner: Runner):
    run = start(runner, ff.told_once())
    [request] = waiting(run)
    fid = request.feedback_id
    assert wait_for("the handler to hear of the request", lambda: told(run) == [f"created {fid} pending"])
    run.respond(fid, True, by="ann")
    assert run.result(timeout=30) is True
    assert told(run) == [f"created {fid} pending", f"answered {fid} True by ann completed"]
    assert run.get_channel().get("log") == ["approve_told"] * runs(runner, on_celery=2)


def test_two_requests_in_a_row_are_each_told_once_although_the_step_runs_three_times(runner: Runner):
    run = start(runner, ff.told_two_in_a_row())
    [first] = waiting(run)
    run.respond(first.feedback_id, True, by="ann")
    second = next_request(run, "Why?")
    run.respond(second.feedback_id, "looks fine", by="bob")
    assert run.result(timeout=30) == [True, "looks fine"]
    assert told(run) == [f"created {first.feedback_id} pending",
                         f"answered {first.feedback_id} True by ann completed",
                         f"created {second.feedback_id} pending",
                         f"answered {second.feedback_id} 'looks fine' by bob completed"]
    assert run.get_channel().get("log") == ["two_told"] * runs(runner, on_celery=3)


def test_a_deadline_is_told_once_before_the_task_gets_its_timeout_error(runner: Runner):
    run = start(runner, ff.told_timeout(), timeout=0.5)
    go_on = next_request(run, "Go on?")  # asked after the name timed out, in the same step
    name_fid = go_on.feedback_id[:-1] + "0"
    run.respond(go_on.feedback_id, True, by="ann")
    assert run.result(timeout=30) == ["anonymous", True]
    assert told(run) == [f"created {name_fid} pending", f"timed out {name_fid} timeout",
                         f"created {go_on.feedback_id} pending",
                         f"answered {go_on.feedback_id} True by ann completed"]
    assert run.get_channel().get("log") == ["name_then_go_on"] * runs(runner, on_celery=3)


def test_a_handler_that_raises_does_not_fail_the_task(runner: Runner):
    run = start(runner, ff.told_broken(), timeout=0.5)
    go_on = next_request(run, "Go on?")
    run.respond(go_on.feedback_id, False, by="ann")
    assert run.result(timeout=30) == ["anonymous", False]
    assert [line.split()[0] for line in told(run)] == ["created", "timed", "created", "answered"]


def test_a_handler_written_as_for_graflow_works(runner: Runner):
    run = start(runner, ff.told_graflow_style())
    [request] = waiting(run)
    assert request.metadata == {"from": "graflow"}
    run.respond(request.feedback_id, "thorough")
    assert run.result(timeout=30) == "thorough"
    assert told(run) == ["Mode? thorough"]  # it overrides one callback; the others do nothing
    assert run.get_channel().get("mode") == "thorough"


def test_a_checkpoint_remembers_which_outcomes_were_told(runner: Runner, tmp_path: Path):
    run = start(runner, ff.told_two_in_a_row())
    [first] = waiting(run)
    run.respond(first.feedback_id, True, by="ann")
    next_request(run, "Why?")
    assert wait_for("three lines told", lambda: len(told(run)) == 3)
    path = run.checkpoint(str(tmp_path / "told.json"))
    run.cancel()
    ran = len(run.get_channel().get("log"))

    resumed = resume(runner, path)  # its step runs again: the first answer was told, the second request made
    assert wait_for("the step to run again", lambda: len(resumed.get_channel().get("log")) > ran)
    again = next_request(resumed, "Why?")
    resumed.respond(again.feedback_id, "fine", by="bob")
    assert resumed.result(timeout=30) == [True, "fine"]
    assert told(resumed) == [*told(run)[:3], f"answered {again.feedback_id} 'fine' by bob completed"]
