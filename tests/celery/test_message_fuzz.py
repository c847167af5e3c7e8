"""Fuzz: random and mutated-real messages (steps, relays, hand-off completions) aimed at running
runs on real workers, interleaved with real runs. Not one run fails or changes, no worker crashes,
and every message that did nothing is logged with its reason.

``GRAFLOW_FUZZ_MESSAGES`` sets how many messages (default 200, as in CI; the issue's run used 1,200).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

import graflow_celery
from graflow_celery import WorkflowRun
from graflow_celery.backends.celery.dispatcher import RELAY_TASK, STEP_TASK
from graflow_celery.backends.celery.handoff import STEP_DONE, STEP_FAILED_MSG
from graflow_celery.core.steps import Step
from tests.support import celery_flows

MESSAGES = int(os.environ.get("GRAFLOW_FUZZ_MESSAGES", "200"))
BATCH = 25  # messages between two new real runs
NODES = ["wobble", "xy", "x", "y", "sum_xy", "gate", "add", "after_add", "nope", ""]
EVIL_DATA = json.dumps({"__t": "pydantic", "cls": "tests.support.evil_import:Evil", "v": {}}).encode().hex()


@pytest.fixture(autouse=True)
def _cluster(celery_workers):
    return celery_workers


class Fuzzer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def junk(self) -> Any:
        return self.rng.choice([None, 0, -1, 2**70, 1.5, "", "x" * 300, [], {}, [1, "a"], {"id": []},
                                {"__t": "pydantic"}, "}{", "gfc:{x}:meta", True])

    def mutate(self, raw: dict[str, Any]) -> dict[str, Any]:
        """One field changed so that the step is no longer the frontier's own."""
        original = Step.from_dict(raw)
        while True:
            out = dict(raw)
            field = self.rng.choice(["id", "node", "scope", "phase", "cycle", "data", "attempt", "barrier",
                                     "drop"])
            choices: dict[str, list[Any]] = {
                "id": [str(int(raw["id"]) + self.rng.randint(1, 40)), "-1", "0", "01", raw["id"] + " ", 7,
                       "999999999"],
                "node": [*NODES, 5, None],
                "scope": ["", "1/0", "2/1", "9/9", "2/0/", None],
                "phase": ["run", "judge", "skip", "evil"],
                "cycle": [raw["cycle"] + 1, -1, "1", 1.5],
                "data": [EVIL_DATA, "ffff", "zz", (b"\0" * 32).hex(), 5, None],
                "attempt": [raw["attempt"] + self.rng.randint(1, 9), -1, "0"],
                "barrier": ["1", "2", "x"],
            }
            if field == "drop":
                out.pop(self.rng.choice(list(out)))
            else:
                out[field] = self.rng.choice(choices[field])
            try:
                if Step.from_dict(out) == original:
                    continue  # the same step after all: that would be a legitimate duplicate
            except (KeyError, TypeError, ValueError):
                pass
            return out

    def message(self, frontiers: dict[str, list[dict[str, Any]]]) -> tuple[str, tuple[Any, ...]]:
        """(task name, args) of one hostile message."""
        rng = self.rng
        real = [(run_id, raw) for run_id, steps in frontiers.items() for raw in steps]
        roll = rng.random()
        if real and roll < 0.45:  # a mutated real step message
            run_id, raw = rng.choice(real)
            if rng.random() < 0.15:
                run_id = rng.choice([r for r, _ in real if r != run_id] or [run_id + "x"])
            return STEP_TASK, (run_id, self.mutate(raw))
        if real and roll < 0.6:  # a relay message of mutated real steps
            run_id, _ = rng.choice(real)
            steps = [self.mutate(raw) for r, raw in real if r == run_id]
            return RELAY_TASK, (run_id, steps or [self.junk()])
        if real and roll < 0.8:  # a forged hand-off completion for a real step
            run_id, raw = rng.choice(real)
            token = rng.choice([None, "", "guess", "x" * 22])
            if rng.random() < 0.5:
                return STEP_DONE, (self.junk(), run_id, raw, token)
            record = {"kind": "task", "task_id": raw["node"], "type": "ValueError", "message": "forged"}
            return STEP_FAILED_MSG, (rng.choice([record, self.junk()]), run_id, raw, token)
        run_id = rng.choice([*(r for r, _ in real), "no-such-run", "a}b", "", 7, None])
        return rng.choice([STEP_TASK, RELAY_TASK]), (run_id, self.junk())


def frontiers(runs: list[WorkflowRun]) -> dict[str, list[dict[str, Any]]]:
    return {run.id: [s.to_dict() for s in run._store.frontier().values()]
            for run in runs if run.status() == "running"}


def test_hostile_messages_never_fail_or_change_a_run(celery_app, celery_workers, worker_logs: Path):
    rng = random.Random(int(os.environ.get("GRAFLOW_FUZZ_SEED", "20261127")))
    fuzzer = Fuzzer(rng)
    runs: list[tuple[WorkflowRun, int, int]] = []  # (run, expected result, expected step count)
    sent: list[str] = []
    started = time.monotonic()
    while len(sent) < MESSAGES:
        runs.append((graflow_celery.submit(celery_flows.wobbly(), app=celery_app), 42,
                     celery_flows.WOBBLY_STEPS))
        time.sleep(0.05)
        for _ in range(BATCH):
            name, args = fuzzer.message(frontiers([r for r, _, _ in runs]))
            message_id = f"fuzz-{len(sent)}"
            celery_app.send_task(name, args=args, task_id=message_id)
            sent.append(message_id)
        time.sleep(rng.uniform(0, 0.3))

    for run, expected, steps in runs:
        assert run.result(timeout=60) == expected, run.id
        assert run.progress() == (steps, steps), run.id
        assert run.results()["wobble"] == "steady"

    assert all(w.proc is not None and w.proc.poll() is None for w in celery_workers), "a worker died"
    log = ""
    deadline = time.monotonic() + 60
    while True:  # the last messages may still be on their way through the workers
        log = "".join(p.read_text(errors="replace") for p in sorted(worker_logs.glob("w*.log")))
        answered = set(re.findall(r"dropping \S+ message (fuzz-\d+) ", log))
        answered |= set(re.findall(r"\[(fuzz-\d+)\] raised unexpected: TypeError", log))
        missing = [m for m in sent if m not in answered]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"{len(missing)} messages left no log line, e.g. {missing[:5]}"
    assert not (worker_logs / "evil-imported").exists(), "a message made a worker import a module"
    crashes = re.findall(r"^.*(?:WorkerLostError|exited with 'signal|Unrecoverable error).*$", log, re.M)
    assert not crashes, crashes
    print(f"{len(sent)} messages, {len(runs)} real runs, {time.monotonic() - started:.1f}s")
