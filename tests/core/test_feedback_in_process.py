"""The memory backend's ways to wait for a person: block the task (answered from another thread -
or, with the Redis channel, another process), park the run with a checkpoint, or be stopped by a
shutdown while waiting; and what a request and an answer must look like."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

import graflow_celery
from graflow_celery import (
    Checkpoint,
    CheckpointManager,
    ConfigurationError,
    ExecutionContext,
    FeedbackNotWaitingError,
    FeedbackType,
    InvalidFeedbackError,
    MemoryBackend,
    TaskContext,
    TaskError,
    WorkflowEngine,
    WorkflowInterruptedError,
    WorkflowParkedError,
    task,
    workflow,
)
from graflow_celery.backends.memory.run import InProcessRun
from graflow_celery.core.feedback import FeedbackRequest
from graflow_celery.core.run_handle import RunHandle
from tests.contract import feedback_flows as ff
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_park_on_feedback_writes_a_checkpoint_answered_there_and_resumed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowParkedError) as parked:
        ff.group_members().execute(park_on_feedback=True)
    assert sorted(r.prompt for r in parked.value.pending) == ["Colour?", "Size?"]
    path = parked.value.checkpoint_path
    assert Path(path).is_file() and path in str(parked.value)

    checkpoint = Checkpoint.load(path)
    requests = {r.prompt: r for r in checkpoint.pending_feedback()}
    checkpoint.respond(requests["Colour?"].feedback_id, "red", by="ann")
    checkpoint.save(path)
    context, _ = CheckpointManager.resume_from_checkpoint(path)
    context.feedback.parks = True  # resumed with one answer: parks again on the other
    with pytest.raises(WorkflowParkedError) as again:
        WorkflowEngine().execute(context)
    [size] = again.value.pending
    assert size.prompt == "Size?" and size.run_id == context.run_id

    second = Checkpoint.load(again.value.checkpoint_path)
    second.respond(size.feedback_id, "L", by="bob")
    resumed, _ = CheckpointManager.resume_from_checkpoint(second)
    assert WorkflowEngine().execute(resumed) == "L red"


def test_a_shutdown_while_a_task_waits_keeps_the_request_in_its_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    context = MemoryBackend(max_workers=2).new_run(ff.approval().graph, name="fb_approval")
    run = graflow_celery.local_run(context.run_id)
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            WorkflowEngine().execute(context)
        except WorkflowInterruptedError as exc:
            failure.append(exc)

    thread = threading.Thread(target=execute)
    thread.start()
    [request] = wait_for("the request", run.pending_feedback)
    context.dispatcher.interrupt("a test")  # as SIGTERM would
    thread.join(10)
    [interrupted] = failure
    checkpoint = Checkpoint.load(interrupted.checkpoint_path)  # type: ignore[attr-defined]
    assert [r.feedback_id for r in checkpoint.pending_feedback()] == [request.feedback_id]
    checkpoint.respond(request.feedback_id, True)
    resumed, _ = CheckpointManager.resume_from_checkpoint(checkpoint)
    assert WorkflowEngine().execute(resumed) == "refunded, refund_ok=True"


ANSWER_FROM_ANOTHER_PROCESS = """
import sys, time, redis, graflow_celery
client = redis.Redis.from_url(sys.argv[1])
while True:
    mine = [r for r in graflow_celery.pending_feedback(redis_client=client) if r.run_id == sys.argv[2]]
    if mine:
        break
    time.sleep(0.05)
graflow_celery.respond(mine[0].feedback_id, True, by="other process", redis_client=client)
print(mine[0].prompt)
"""


def test_the_redis_channel_lets_another_process_answer_an_in_process_run(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(3), decode_responses=True)  # graflow's example
    backend = MemoryBackend(feedback_backend="redis", feedback_config={"redis_client": client})
    context = backend.new_run(ff.approval().graph, name="fb_approval")
    other = subprocess.Popen([sys.executable, "-c", ANSWER_FROM_ANOTHER_PROCESS, redis_server.db_url(3),
                              context.run_id], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert WorkflowEngine().execute(context) == "refunded, refund_ok=True"
    finally:
        out, _ = other.communicate(timeout=30)
    assert out.strip() == "Refund 120 EUR?"
    [entry] = graflow_celery.local_run(context.run_id).feedback_history()
    assert (entry.value, entry.responded_by) == (True, "other process")
    assert graflow_celery.pending_feedback(redis_client=client) == []


@pytest.mark.parametrize("form", ["graflow's redis channel", "feedback_backend",
                                  "a channel and another server"])
def test_execution_context_create_keeps_requests_in_redis_as_graflow_does(redis_server, form):
    """graflow keeps requests with a Redis channel; ``feedback_backend=`` asks for it outright;
    ``feedback_config`` naming a server wins over the channel's."""
    client = redis.Redis.from_url(redis_server.db_url(4))
    settings: dict[str, object] = {
        "graflow's redis channel": {"channel_backend": "redis", "config": {"redis_client": client}},
        "feedback_backend": {"feedback_backend": "redis", "feedback_config": {"redis_client": client}},
        "a channel and another server": {"channel_backend": "redis", "config": {"redis_client": client},
                                         "feedback_config": {"url": redis_server.db_url(6)}},
    }[form]
    answered_in = redis_server.db_url(6 if form.startswith("a channel") else 4)
    context = ExecutionContext.create(ff.approval().graph, name="fb_approval", **settings)  # type: ignore[arg-type]
    other = subprocess.Popen([sys.executable, "-c", ANSWER_FROM_ANOTHER_PROCESS, answered_in,
                              context.run_id], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert WorkflowEngine().execute(context) == "refunded, refund_ok=True"
    finally:
        out, _ = other.communicate(timeout=30)
    assert out.strip() == "Refund 120 EUR?"


def test_a_celery_run_refuses_a_feedback_backend():
    with pytest.raises(ConfigurationError, match="feedback_backend is for in-process runs"):
        ExecutionContext.create(ff.approval().graph, channel_backend="celery", feedback_backend="redis")


def test_feedback_backend_names_are_checked():
    with pytest.raises(ConfigurationError, match="unknown feedback_backend 'files'"):
        MemoryBackend(feedback_backend="files")


@task(inject_context=True)
def bad_request(ctx: TaskContext) -> object:
    kind = ctx.get_channel().get("kind")
    options = ctx.get_channel().get("options", None)
    return ctx.request_feedback(kind, "?", options=options, timeout=ctx.get_channel().get("timeout", 1.0),
                                write_to_channel=ctx.get_channel().get("write", False))


@pytest.mark.parametrize("inputs, message", [
    ({"kind": "vote"}, "unknown feedback type 'vote'"),
    ({"kind": "selection"}, "needs a list of distinct option strings"),
    ({"kind": "selection", "options": ["a", "a"]}, "needs a list of distinct option strings"),
    ({"kind": "text", "timeout": -1}, "timeout must be a number of seconds > 0"),
    ({"kind": "text", "write": True}, "write_to_channel=True needs a channel_key"),
])
def test_a_request_that_cannot_be_answered_fails_its_task_saying_why(inputs, message):
    with workflow("bad_request") as wf:
        wf.add(bad_request)
    with pytest.raises(TaskError, match=message) as failed:
        wf.execute(initial_channel=inputs)
    assert failed.value.error_type == "ConfigurationError"


def _request(kind: FeedbackType, options: list[str] | None = None) -> FeedbackRequest:
    return FeedbackRequest("run:1:0", "t", "run", kind, "?", options)


@pytest.mark.parametrize("kind, options, typed, value", [
    (FeedbackType.APPROVAL, None, "Yes", True),
    (FeedbackType.APPROVAL, None, "reject", False),
    (FeedbackType.TEXT, None, " as typed ", " as typed "),
    (FeedbackType.SELECTION, ["a", "b"], " b", "b"),
    (FeedbackType.MULTI_SELECTION, ["a", "b", "c"], "a, c", ["a", "c"]),
    (FeedbackType.MULTI_SELECTION, ["a", "b", "c"], '["b"]', ["b"]),
    (FeedbackType.CUSTOM, None, '{"n": 1}', {"n": 1}),
])
def test_answers_as_a_person_types_them(kind, options, typed, value):
    assert _request(kind, options).parse_answer(typed) == value


@pytest.mark.parametrize("kind, options, value, message", [
    (FeedbackType.APPROVAL, None, "yes", "True or False"),
    (FeedbackType.TEXT, None, 3, "a string"),
    (FeedbackType.SELECTION, ["a"], "b", "one of \\['a'\\]"),
    (FeedbackType.MULTI_SELECTION, ["a", "b"], ["a", "z"], "\\['z'\\] are not among the options"),
    (FeedbackType.MULTI_SELECTION, ["a", "b"], ["a", "a"], "chosen twice"),
    (FeedbackType.CUSTOM, None, [1], "a JSON object"),
    (FeedbackType.CUSTOM, None, {"x": object()}, "not JSON"),
])
def test_an_answer_that_does_not_fit_is_refused_naming_what_fits(kind, options, value, message):
    with pytest.raises(InvalidFeedbackError, match=message):
        _request(kind, options).check_answer(value)
    with pytest.raises(InvalidFeedbackError, match="yes or no"):
        _request(FeedbackType.APPROVAL).parse_answer("perhaps")


def test_a_parked_run_stays_waiting_and_can_be_answered_live(tmp_path, monkeypatch):
    """Parking stops the launch, not the run: it was once failed as "could not start"."""
    monkeypatch.chdir(tmp_path)
    wf = ff.group_members()
    context = ExecutionContext.create(wf.graph, name=wf.name)
    context.feedback.parks = True
    with pytest.raises(WorkflowParkedError) as parked:
        WorkflowEngine().execute(context)
    handle = RunHandle(InProcessRun(context))
    assert handle.status() == "waiting" and context.store.error() is None
    first = parked.value.pending[0]
    handle.respond(first.feedback_id, "red" if first.prompt == "Colour?" else "L", by="ann")
    assert [e.responded_by for e in handle.feedback_history()] == ["ann"]


def test_checkpoints_and_the_runs_resumed_from_one_do_not_share_requests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowParkedError) as parked:
        ff.group_members().execute(park_on_feedback=True)
    checkpoint = Checkpoint.load(parked.value.checkpoint_path)
    run_a, _ = CheckpointManager.resume_from_checkpoint(checkpoint)
    run_b, _ = CheckpointManager.resume_from_checkpoint(checkpoint)
    [request_a, *_] = RunHandle(InProcessRun(run_a)).pending_feedback()
    a_key = request_a.feedback_id.rpartition(":")[0].rpartition(":")[2]  # same step in both runs
    RunHandle(InProcessRun(run_a)).respond(request_a.feedback_id,
                                          "red" if request_a.prompt == "Colour?" else "L", by="ann")
    waiting_b = [r for r in RunHandle(InProcessRun(run_b)).pending_feedback()
                 if r.feedback_id.rpartition(":")[0].rpartition(":")[2] == a_key]
    assert [r.prompt for r in waiting_b] == [request_a.prompt]  # still waiting in run B
    assert len(checkpoint.pending_feedback()) == 2  # and in the checkpoint


@pytest.mark.parametrize("feedback_id", ["abc:1:\u00b2", "abc:\u00b2:0", "abc:1:" + "9" * 5000, "abc:1", 7,
                                         ""])
def test_a_malformed_request_id_is_not_waiting_not_a_crash(feedback_id):
    with pytest.raises(FeedbackNotWaitingError):
        graflow_celery.respond(feedback_id, True)
