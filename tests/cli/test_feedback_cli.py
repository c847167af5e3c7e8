"""``graflow-celery feedback list|respond|history`` in subprocesses, on the session's workers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.test_cli import celery
from tests.support.wait import wait_for

FLOWS = "tests.contract.feedback_flows"


@pytest.fixture
def on_workers(redis_server: Any, celery_workers: Any) -> dict[str, str]:
    return {"GRAFLOW_TEST_REDIS_URL": redis_server.url}


def listed(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    done = celery(env, "feedback", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_list_respond_and_history_of_a_waiting_run(on_workers: dict[str, str]) -> None:
    submitted = celery(on_workers, "submit", f"{FLOWS}:two_in_a_row")
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    [first] = wait_for("the first request",
                       lambda: [r for r in listed(on_workers) if r["session_id"] == run_id])
    assert (first["feedback_type"], first["prompt"], first["workflow"]) == ("approval", "Ship it?", "fb_two")
    plain = celery(on_workers, "feedback", "list", "--run", run_id)
    assert plain.stdout.split("  ")[:3] == [first["feedback_id"], "fb_two.two_questions", "approval"]

    invalid = celery(on_workers, "feedback", "respond", first["feedback_id"], "perhaps")
    assert invalid.returncode == 2 and "yes or no" in invalid.stderr
    answered = celery(on_workers, "feedback", "respond", first["feedback_id"], "yes", "--by", "ann")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == f"answered {first['feedback_id']}: true"
    again = celery(on_workers, "feedback", "respond", first["feedback_id"], "no", "--by", "bob")
    assert again.returncode == 1 and "answered already (by ann)" in again.stderr

    [second] = wait_for("the second request", lambda: listed(on_workers, "--run", run_id))
    assert second["feedback_type"] == "text"
    done = celery(on_workers, "feedback", "respond", second["feedback_id"], "all green",
                  "--reason", "checked")
    assert done.returncode == 0, done.stderr
    watched = celery(on_workers, "watch", run_id)
    assert watched.stdout.splitlines()[-1] == 'completed: [true, "all green"]'
    lines = celery(on_workers, "feedback", "history", run_id).stdout.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        f"{first['feedback_id']}  answered by ann: true  Ship it?",
        f"{second['feedback_id']}  answered: \"all green\"  Why?"]


def test_responding_to_what_does_not_wait(on_workers: dict[str, str]) -> None:
    not_an_id = celery(on_workers, "feedback", "respond", "nonsense", "yes")
    assert not_an_id.returncode == 2 and "not a request id" in not_an_id.stderr
    submitted = celery(on_workers, "submit", f"{FLOWS}:approval")
    run_id = submitted.stdout.strip()
    wait_for("the request", lambda: listed(on_workers, "--run", run_id))
    unknown_request = celery(on_workers, "feedback", "respond", f"{run_id}:99:0", "yes")
    assert unknown_request.returncode == 1 and "no such request" in unknown_request.stderr
    assert celery(on_workers, "cancel", run_id).returncode == 0
