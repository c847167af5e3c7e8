"""Checkpoints and resume, on both backends, and across them: a checkpoint taken on one backend
resumes on either."""

from __future__ import annotations

import json

import pytest

from graflow_celery import Checkpoint, CheckpointError, ParallelGroupError, TaskError
from tests.conftest import Runner
from tests.contract import flows


def test_a_deferred_checkpoint_is_taken_after_its_task_and_before_the_next(runner, resumer, tmp_path):
    path = tmp_path / "after_mark.json"
    result, ctx = runner.execute(flows.checkpointed(), initial_channel={"checkpoint_path": str(path)})
    assert result == 20
    checkpoint = Checkpoint.load(path)
    assert [s.node for s in checkpoint.state.frontier.values()] == ["cp_last"]
    assert set(checkpoint.state.results) == {"cp_first", "cp_mark"}
    assert checkpoint.metadata.user_metadata == {"note": "after mark", "task_id": "cp_mark", "cycle_count": 1,
                                                 "mode": "deferred"}
    assert checkpoint.metadata.session_id == ctx.run_id

    resumed, channel = resumer.resume(path)
    assert resumed == 20
    assert channel.get("log") == ["first", "mark", "last"]  # what ran before is not run again


def test_an_immediate_checkpoint_runs_its_task_again_on_resume(runner, resumer, tmp_path):
    path = tmp_path / "now.json"
    result, ctx = runner.execute(flows.checkpointed(immediate=True),
                                 initial_channel={"checkpoint_path": str(path)})
    assert result == 20
    assert ctx.get_channel().get("immediate") == {"path": str(path), "task_id": "cp_now"}
    assert [s.node for s in Checkpoint.load(path).state.frontier.values()] == ["cp_now"]

    resumed, channel = resumer.resume(path)
    assert resumed == 20
    assert channel.get("log") == ["first", "now", "now", "last"]


def test_a_checkpoint_is_readable_json_with_a_format_and_version(runner, tmp_path):
    path = tmp_path / "cp.json"
    runner.execute(flows.checkpointed(), initial_channel={"checkpoint_path": str(path)})
    document = json.loads(path.read_text())
    assert (document["format"], document["version"], document["values"]) == (
        "graflow-celery.checkpoint", 1, "json")
    assert document["run"]["results"]["cp_mark"] == 2  # values embedded as JSON, not opaque bytes
    assert document["channel"]["log"]["items"] == ["first", "mark"]
    assert document["graph"]["nodes"]["cp_mark"]["func"] == "tests.contract.flows:cp_mark"


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(version=99), "version 99 checkpoint"),
    (lambda d: d.update(format="something else"), "not a graflow-celery checkpoint"),
    (lambda d: d["run"].update(status="exploded"), "damaged"),
    (lambda d: d["run"]["frontier"].append({"id": "-1", "node": "x"}), "damaged"),
    (lambda d: d["graph"]["nodes"]["cp_last"].update(func="no.such.module:f"), "no.such.module"),
])
def test_a_damaged_or_foreign_checkpoint_is_refused_before_anything_is_written(
        runner, resumer, tmp_path, damage, message):
    path = tmp_path / "cp.json"
    runner.execute(flows.checkpointed(), initial_channel={"checkpoint_path": str(path)})
    document = json.loads(path.read_text())
    damage(document)
    path.write_text(json.dumps(document))
    before = _run_count(resumer)
    with pytest.raises(CheckpointError, match=message):
        resumer.resume(path)
    assert _run_count(resumer) == before


def _run_count(runner: Runner) -> int:
    if runner.app is None:
        return 0
    import redis  # the Celery backend's store: no run was written

    return len(redis.Redis.from_url(runner.state_url).keys("gfc:*:meta"))


def test_a_failed_group_resumes_running_only_what_failed(runner):
    error, result, channel = runner.fail_then_resume(flows.fails_in_a_group(), {"fixed": True})
    assert isinstance(error, ParallelGroupError) and error.group_id == "pair"
    assert result == {"cp_fragile": "mended", "cp_sturdy": "sturdy"}
    log = channel.get("log")
    assert log.count("first") == 1 and log.count("sturdy") == 1  # completed steps are kept
    assert log.count("fragile") == 2 and log[-1] == "after"


def test_a_failed_step_resumes_with_fresh_retries(runner):
    error, result, channel = runner.fail_then_resume(flows.fails_in_a_chain(), {"fixed": True})
    assert isinstance(error, TaskError) and error.task_id == "cp_fragile"
    assert result == "sturdy"
    assert channel.get("log") == ["first", "fragile", "fragile", "sturdy"]
