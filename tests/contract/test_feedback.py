"""Waiting for a person, on every backend: a request waits (parked on Celery, blocking in process),
is listed, answered from outside the run - checked, once - and the task goes on with the answer;
deadlines, several requests in a task, group members, cancel and checkpoints."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

import graflow_celery
from graflow_celery import (
    Checkpoint,
    CheckpointManager,
    FeedbackNotWaitingError,
    FeedbackType,
    GraflowError,
    InvalidFeedbackError,
    MemoryBackend,
    TaskError,
    WorkflowEngine,
)
from graflow_celery.core.run_handle import RunHandle
from tests.conftest import Runner
from tests.contract import feedback_flows as ff
from tests.support.signal_recorder import recorded
from tests.support.wait import wait_for


def _execute(context: object) -> None:
    with contextlib.suppress(GraflowError):  # the test reads how the run ended from its handle
        WorkflowEngine().execute(context)  # type: ignore[arg-type]


def _in_background(context: object) -> RunHandle:
    threading.Thread(target=_execute, args=(context,), daemon=True).start()
    return graflow_celery.local_run(context.run_id)  # type: ignore[attr-defined]


def start(runner: Runner, wf, **inputs: object) -> RunHandle:
    """Start ``wf`` and return its handle at once: on Celery submitted, in process run by a thread."""
    if runner.app is None:
        context = MemoryBackend(max_workers=runner.max_workers).new_run(wf.graph, name=wf.name)
        for key, value in inputs.items():
            context.channel.set(key, value)
        return _in_background(context)
    return graflow_celery.submit(wf, inputs, app=runner.app)


def resume(runner: Runner, path: str) -> RunHandle:
    if runner.app is None:
        context, _ = CheckpointManager.resume_from_checkpoint(path)
        return _in_background(context)
    return graflow_celery.resume(path, app=runner.app)


def waiting(run: RunHandle, count: int = 1) -> list:
    def found() -> list | None:
        pending = run.pending_feedback()
        return pending if len(pending) == count else None

    return wait_for(f"{count} request(s) of run {run.id}", found)


def test_a_request_waits_is_listed_and_the_answer_goes_into_the_task(runner: Runner):
    run = start(runner, ff.approval())
    [request] = waiting(run)
    assert wait_for("the run to read waiting", lambda: run.status() == "waiting")
    assert (request.feedback_type, request.prompt, request.metadata, request.task_id) == (
        FeedbackType.APPROVAL, "Refund 120 EUR?", {"amount": 120}, "ask_refund")
    assert (request.run_id, request.status, request.deadline, request.workflow) == (
        run.id, "pending", None, "fb_approval")
    assert request.feedback_id == f"{run.id}:{request.step_id}:0"
    assert request.feedback_id in [r.feedback_id for r in graflow_celery.pending_feedback(runner.app)]

    response = graflow_celery.respond(request.feedback_id, False, by="ann", reason="too much", app=runner.app)
    assert (response.approved, response.responded_by, response.value) == (False, "ann", False)
    assert run.result(timeout=30) == "kept, refund_ok=False"  # written to the channel as asked
    assert run.get_channel().get("refund_ok.__feedback_response__")["responded_by"] == "ann"
    [entry] = run.feedback_history()
    assert (entry.feedback_id, entry.outcome, entry.value, entry.responded_by, entry.reason) == (
        request.feedback_id, "answered", False, "ann", "too much")
    assert run.pending_feedback() == []
    assert request.feedback_id not in [r.feedback_id for r in graflow_celery.pending_feedback(runner.app)]
    # in process the task waited; on Celery it parked and ran again from its start
    assert run.get_channel().get("log") == ["ask_refund"] * (1 if runner.app is None else 2)


def test_an_answer_is_checked_and_taken_once(runner: Runner):
    run = start(runner, ff.approval())
    [request] = waiting(run)
    fid = request.feedback_id
    with pytest.raises(InvalidFeedbackError, match="True or False"):
        run.respond(fid, "yes")
    with pytest.raises(FeedbackNotWaitingError) as unknown:
        run.respond(f"{run.id}:999:0", True)
    assert unknown.value.reason == "unknown"
    with pytest.raises(FeedbackNotWaitingError) as other:
        run.respond(f"another-run:{request.step_id}:0", True)
    assert other.value.reason == "other_run"
    assert run.pending_feedback() == [request]  # nothing changed

    taken: list[str] = []
    refused: list[str] = []

    def answer(who: str) -> None:
        try:
            run.respond(fid, True, by=who)
            taken.append(who)
        except FeedbackNotWaitingError as exc:
            assert exc.reason == "answered"
            refused.append(who)

    threads = [threading.Thread(target=answer, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 1 and len(refused) == 7
    assert run.result(timeout=30) == "refunded, refund_ok=True"
    with pytest.raises(FeedbackNotWaitingError, match=f"by {taken[0]}") as again:
        run.respond(fid, False, by="late")
    assert again.value.reason == "answered"
    assert [(e.value, e.responded_by) for e in run.feedback_history()] == [(True, taken[0])]


def test_a_task_with_two_requests_asks_the_second_once_the_first_is_answered(runner: Runner):
    run = start(runner, ff.two_in_a_row())
    [first] = waiting(run)
    assert first.feedback_type is FeedbackType.APPROVAL and first.feedback_id.endswith(":0")
    run.respond(first.feedback_id, True, by="ann")
    [second] = wait_for("the second request", lambda: [r for r in run.pending_feedback()
                                                       if r.feedback_id != first.feedback_id])
    assert second.feedback_type is FeedbackType.TEXT
    assert second.feedback_id == first.feedback_id[:-1] + "1"
    run.respond(second.feedback_id, "looks fine", by="bob")
    assert run.result(timeout=30) == [True, "looks fine"]
    assert [(e.value, e.responded_by) for e in run.feedback_history()] == [(True, "ann"),
                                                                            ("looks fine", "bob")]


def test_parking_and_each_answer_read_are_lifecycle_events(runner: Runner):
    """``step_parked`` each time the step parks (on Celery: twice here, once per request; in
    process a request blocks instead); ``feedback_received`` once per request, although on Celery
    the step runs three times and reads the first answer twice."""
    run = start(runner, ff.two_in_a_row())
    [first] = waiting(run)
    run.respond(first.feedback_id, True)
    [second] = wait_for("the second request", lambda: [r for r in run.pending_feedback()
                                                       if r.feedback_id != first.feedback_id])
    run.respond(second.feedback_id, "fine")
    assert run.result(timeout=30) == [True, "fine"]
    wanted = ["step_parked", "feedback_received"]
    events = wait_for("the run's events", lambda: [e for e in recorded(run.id) if e["signal"] in wanted]
                      if any(e["signal"] == "run_finished" for e in recorded(run.id)) else None)
    ids = (first.feedback_id, second.feedback_id)
    parked = [("step_parked", "two_questions", fid) for fid in ids]
    received = [("feedback_received", "two_questions", fid) for fid in ids]
    expected = [parked[0], received[0], parked[1], received[1]] if runner.app is not None else received
    assert [(e["signal"], e["task_id"], e["feedback_id"]) for e in events] == expected
    assert {e["status"] for e in events if e["signal"] == "feedback_received"} == {"answered"}


def test_members_of_a_parallel_group_wait_at_once(runner: Runner):
    run = start(runner, ff.group_members())
    requests = {r.prompt: r for r in waiting(run, 2)}
    assert wait_for("the run to read waiting", lambda: run.status() == "waiting")
    with pytest.raises(InvalidFeedbackError, match="one of"):
        run.respond(requests["Size?"].feedback_id, "XL")
    run.respond(requests["Colour?"].feedback_id, "green")
    assert [r.prompt for r in waiting(run)] == ["Size?"]
    run.respond(requests["Size?"].feedback_id, "M")
    assert run.result(timeout=30) == "M green"


def test_a_run_waits_only_once_nothing_else_runs(runner: Runner):
    run = start(runner, ff.asking_beside_a_busy_member())
    [request] = waiting(run)
    assert run.status() == "running"  # its other member is still at work
    run.get_channel().set("go", True)
    assert wait_for("the run to read waiting", lambda: run.status() == "waiting")
    run.respond(request.feedback_id, "red")
    assert run.result(timeout=30) == {"pick_colour": "red", "hold_until_go": "went"}


def test_a_deadline_without_an_answer_raises_in_the_task_which_can_go_on(runner: Runner):
    run = start(runner, ff.with_default(), timeout=0.5)
    assert run.result(timeout=30) == "anonymous"
    [entry] = run.feedback_history()
    assert entry.outcome == "timed_out" and entry.value is None
    assert run.pending_feedback() == []


def test_a_deadline_the_task_does_not_handle_fails_it(runner: Runner):
    run = start(runner, ff.without_default(), timeout=0.5)
    with pytest.raises(TaskError) as failed:
        run.result(timeout=30)
    assert failed.value.error_type == "FeedbackTimeoutError"
    assert "got no answer within 0.5 seconds" in str(failed.value)


def test_a_waiting_run_can_be_cancelled(runner: Runner):
    run = start(runner, ff.approval())
    [request] = waiting(run)
    assert run.cancel("nobody is coming")
    assert run.wait(timeout=30) == "cancelled"
    assert run.pending_feedback() == []
    assert request.feedback_id not in [r.feedback_id for r in graflow_celery.pending_feedback(runner.app)]
    with pytest.raises(FeedbackNotWaitingError) as refused:
        run.respond(request.feedback_id, True)
    assert refused.value.reason == "ended"


def test_a_checkpoint_of_a_waiting_run_holds_its_request(runner: Runner, tmp_path: Path):
    run = start(runner, ff.approval())
    [request] = waiting(run)
    path = run.checkpoint(str(tmp_path / "waiting.json"))
    run.cancel()
    checkpoint = Checkpoint.load(path)
    assert checkpoint.to_document()["version"] == 2
    assert [r.feedback_id for r in checkpoint.pending_feedback()] == [request.feedback_id]

    resumed = resume(runner, path)  # a new run: its request has the new run's id
    [again] = waiting(resumed)
    assert again.feedback_id == f"{resumed.id}:{request.step_id}:0"
    assert (again.prompt, again.created_at) == (request.prompt, request.created_at)
    resumed.respond(again.feedback_id, True, by="ann")
    assert resumed.result(timeout=30) == "refunded, refund_ok=True"

    checkpoint.respond(request.feedback_id, False, by="bob")  # answered in the document itself
    answered = checkpoint.save(tmp_path / "answered.json")
    with pytest.raises(FeedbackNotWaitingError):
        checkpoint.respond(request.feedback_id, True)
    done = resume(runner, answered)
    assert done.result(timeout=30) == "kept, refund_ok=False"
    assert [(e.value, e.responded_by) for e in done.feedback_history()] == [(False, "bob")]
