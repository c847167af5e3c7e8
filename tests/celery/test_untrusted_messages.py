"""Whoever can publish to the broker cannot break or steer a run: every forged, stale or mangled
message aimed at a running run on real workers is dropped with a logged reason, and the run
completes with the right result, each transition once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import graflow_celery
from graflow_celery import WorkflowRun
from graflow_celery.backends.celery.dispatcher import RELAY_TASK, STEP_TASK
from graflow_celery.backends.celery.handoff import STEP_DONE, STEP_FAILED_MSG
from tests.contract import flows
from tests.support import celery_flows
from tests.support.wait import wait_for


@pytest.fixture(autouse=True)
def _cluster(celery_workers):
    return celery_workers


def worker_log(worker_logs: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(worker_logs.glob("w*.log")))


def drop_lines(worker_logs: Path, message_ids: list[str]) -> dict[str, str]:
    """The "dropping ..." log line of each message, once every one of them has one."""

    def find() -> dict[str, str] | None:
        text = worker_log(worker_logs)
        found = {m: line for m in message_ids
                 for line in re.findall(rf"^.*dropping \S+ message {re.escape(m)} .*$", text, re.M)}
        return found if len(found) == len(message_ids) else None

    return wait_for(f"drop lines for {message_ids}", find)


def step(step_id: str, node: str, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "node": node, "scope": "", "phase": "run", "cycle": 0, "data": None,
            "attempt": 0, "barrier": "", **fields}


def gated_run(app: Any) -> WorkflowRun:
    run = graflow_celery.submit(celery_flows.gated(), app=app)
    wait_for("the gate", lambda: run.get_channel().get("gate_waiting"))
    return run


def test_forged_and_stale_step_messages_never_change_or_fail_a_run(celery_app, worker_logs):
    run = gated_run(celery_app)
    neighbour = graflow_celery.submit(flows.pipeline(), app=celery_app, run_id=f"{run.id}-ch-z")
    [gate] = run._store.frontier().values()
    assert (gate.id, gate.node) == ("1", "gate")
    forged_pickle = (b"\0" * 32 + b"\x80\x05cos\nsystem\n").hex()  # a signature that cannot match
    evil = {"__t": "pydantic", "cls": "tests.support.evil_import:Evil", "v": {}}
    evil_model = json.dumps(evil).encode().hex()
    attacks = {
        "unknown-node": step("1", "after_add"),
        "past-max-steps": step("999999", "gate"),
        "undecodable-data": step("1", "gate", data="ffff"),
        "judge-without-barrier": step("5", "xy", phase="judge", barrier="2"),
        "forged-pickle": step("1", "gate", data=forged_pickle),
        "names-a-module": step("1", "gate", data=evil_model),
        "negative-id": step("-1", "gate"),
        "unknown-scope": step("1", "gate", scope="9/0"),
        "extra-retries": step("1", "gate", attempt=-3),
        "no-retries-left": step("1", "gate", attempt=50),
        "group-member-early": step("3", "x", scope="2/0"),
    }
    ids = []
    for name, raw in attacks.items():
        ids.append(f"attack-{name}")
        celery_app.send_task(STEP_TASK, args=(run.id, raw), task_id=ids[-1])
    ids.append("attack-brace-in-run-id")  # would overlap the run's keys if ids were not checked
    celery_app.send_task(STEP_TASK, args=(f"{run.id}}}:ch:z", step("1", "gate")), task_id=ids[-1])
    ids.append("attack-neighbour")  # the neighbour's own first step, forged with other data
    celery_app.send_task(STEP_TASK, args=(neighbour.id, step("1", "load", data=evil_model)), task_id=ids[-1])
    ids.append("attack-relay")
    celery_app.send_task(RELAY_TASK, args=(run.id, list(attacks.values())), task_id=ids[-1])
    ids.append("attack-completes-the-gate")
    celery_app.send_task(STEP_DONE, args=(999, run.id, step("1", "gate"), "guessed"), task_id=ids[-1])
    lines = drop_lines(worker_logs, ids)
    assert "its node differs" in lines["attack-unknown-node"]
    assert "not on the run's frontier" in lines["attack-past-max-steps"]
    assert "its data differs" in lines["attack-forged-pickle"]
    assert "malformed step" in lines["attack-negative-id"]
    assert "attempt 50 but the run is at attempt 0" in lines["attack-no-retries-left"]
    assert "not waiting for a hand-off" in lines["attack-completes-the-gate"]
    assert "invalid run id" in lines["attack-brace-in-run-id"]
    # (the neighbour may have finished already: then its message is only a harmless duplicate)
    assert all("WARNING" in line for name, line in lines.items() if name != "attack-neighbour")
    assert run.status() == "running" and run._store.frontier() == {"1": gate}

    run.get_channel().set("open", True)
    handoff = wait_for("the hand-off", lambda: [s for s in run._store.frontier().values() if s.node == "add"])
    raw_add = handoff[0].to_dict()
    wait_for("its token", lambda: run._store.begin(handoff[0]).handoff_token)
    forged_error = {"kind": "task", "task_id": "add", "type": "ValueError", "message": "forged"}
    completions = {
        "attack-done-wrong-token": (STEP_DONE, (1000, run.id, raw_add, "guessed")),
        "attack-done-no-token": (STEP_DONE, (1000, run.id, raw_add)),
        "attack-failed-wrong-token": (STEP_FAILED_MSG, (forged_error, run.id, raw_add, "guessed")),
    }
    for message_id, (name, args) in completions.items():
        celery_app.send_task(name, args=args, task_id=message_id)
    lines = drop_lines(worker_logs, list(completions))
    assert "wrong hand-off token" in lines["attack-done-wrong-token"]

    assert run.result(timeout=30) == 43
    assert run.results()["add"] == 42
    assert run.progress() == (celery_flows.GATED_STEPS, celery_flows.GATED_STEPS)
    assert neighbour.wait(timeout=30) == "completed" and neighbour.results() == {
        "load": [1, 2, 3], "double": [2, 4, 6], "total": 12}
    assert not (worker_logs / "evil-imported").exists(), "a message made a worker import a module"


def test_a_straggler_of_an_ended_run_changes_nothing(celery_app, worker_logs):
    run = gated_run(celery_app)
    run.cancel("stop")
    run.get_channel().set("open", True)  # the gate step finishes after the end: a straggler
    wait_for("the straggler", lambda: f"gated.gate[{run.id}:1] succeeded" in worker_log(worker_logs))
    assert run.status() == "cancelled"
    assert run.results() == {}
    assert set(run._store.frontier()) == {"1"}  # not applied: a resumed run could still run it


def test_a_password_in_a_failure_never_reaches_the_worker_logs(celery_app, worker_logs):
    run = graflow_celery.submit(flows.single(flows.leaks_a_password), app=celery_app)
    assert run.wait(timeout=30) == "failed"
    # Celery logs the step's failure after the transition that failed the run: wait for that record
    # up to the last line of its traceback, the task's exception
    record = wait_for("the step's failure in the worker log", lambda: re.search(
        rf"^.*\[{run.id}:1\] raised unexpected: .*\n(?:(?!\[\d{{4}}-).*\n)*?ValueError: cannot reach .*\n",
        worker_log(worker_logs), re.M))
    first, *traceback = record[0].splitlines()
    assert first.endswith(f"[{run.id}:1] raised unexpected: ValueError('cannot reach {flows.MASKED_URL}')")
    assert traceback[-1] == f"ValueError: cannot reach {flows.MASKED_URL}"
    assert any(line.endswith("in leaks_a_password") for line in traceback)  # the task's frames
    assert "s3cret-pw" not in worker_log(worker_logs)
