"""The command line as a user runs it: ``python -m graflow_celery ...`` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOWS = "tests.support.cli_flows"
APP = "tests.support.celery_app:app"


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graflow_celery", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_run_prints_a_line_per_step_and_the_result() -> None:
    done = cli("run", f"{FLOWS}:doubling", "--input", "n=20")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["step seed completed (1 done)", "step twice completed (2 done)",
                                        "step plus_one completed (3 done)", "41"]


def test_run_by_workflow_name_and_a_factory_function() -> None:
    assert cli("run", f"{FLOWS}:cli_doubling").stdout.splitlines()[-1] == "3"
    done = cli("run", "tests.contract.flows:pipeline")  # a function that builds the workflow
    assert done.returncode == 0, done.stderr


def test_a_failing_run_exits_1_with_its_error() -> None:
    done = cli("run", f"{FLOWS}:failing")
    assert done.returncode == 1
    assert "step broken failed" in done.stdout
    assert "broken on purpose" in done.stderr


@pytest.mark.parametrize("spec, message", [
    ("tests.support.nosuch:x", "cannot import module 'tests.support.nosuch'"),
    (f"{FLOWS}:nope", "no workflow 'nope' in module"),
    ("no_colon", "expected MODULE:WORKFLOW"),
])
def test_unknown_module_or_workflow_is_one_line_and_exit_2(spec: str, message: str) -> None:
    done = cli("run", spec)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    if "nope" in spec:
        assert "cli_doubling" in lines[0]  # the known names, from graflow_celery.workflows()


@pytest.mark.parametrize("fmt, expected", [
    ("mermaid", 'flowchart TD\n  n0["seed"]\n  n1["twice"]\n  n2["plus_one"]\n  n0 --> n1\n  n1 --> n2\n'),
    ("dot", '"seed" -> "twice";'),
    ("ascii", "cli_doubling\n  seed\n    -> twice\n      -> plus_one\n"),
])
def test_graph_formats(fmt: str, expected: str) -> None:
    done = cli("graph", f"{FLOWS}:doubling", "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_workflows_accessor_is_read_only() -> None:
    import graflow_celery
    import tests.support.cli_flows as flows

    known = graflow_celery.workflows()
    assert known["cli_doubling"] is flows.doubling
    with pytest.raises(TypeError):
        known["x"] = flows.doubling  # type: ignore[index]


# --- on the session's Celery workers ---------------------------------------------------------------


@pytest.fixture
def on_workers(redis_server: Any, celery_workers: Any) -> dict[str, str]:
    return {"GRAFLOW_TEST_REDIS_URL": redis_server.url}


def celery(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return cli("--app", APP, *args, env=env, timeout=timeout)


def submitted(env: dict[str, str], workflow: str, *inputs: str) -> str:
    done = celery(env, "submit", f"{FLOWS}:{workflow}", *inputs)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_submit_status_watch_a_completed_run(on_workers: dict[str, str]) -> None:
    run_id = submitted(on_workers, "doubling", "--input", "n=20")
    watched = celery(on_workers, "watch", run_id)
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1] == "completed: 41"
    status = celery(on_workers, "status", run_id)
    assert status.returncode == 0, status.stderr
    assert status.stdout.split() == [run_id, "cli_doubling", "completed", "3/3"]


def test_watch_a_failing_run_exits_1(on_workers: dict[str, str]) -> None:
    run_id = submitted(on_workers, "failing")
    watched = celery(on_workers, "watch", run_id)
    assert watched.returncode == 1
    assert "broken on purpose" in watched.stderr


def test_cancel_then_watch_exits_2(on_workers: dict[str, str]) -> None:
    run_id = submitted(on_workers, "sleepy", "--input", "seconds=2")
    cancelled = celery(on_workers, "cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert celery(on_workers, "watch", run_id).returncode == 2
    again = celery(on_workers, "cancel", run_id)
    assert again.returncode == 1 and "already ended" in again.stderr


def test_unknown_run_and_missing_app_exit_2(on_workers: dict[str, str]) -> None:
    done = celery(on_workers, "status", "0" * 32)
    assert done.returncode == 2
    assert "unknown run" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    no_app = cli("status", "0" * 32)
    assert no_app.returncode == 2 and "--app" in no_app.stderr


def test_runs_lists_the_newest_runs_first(on_workers: dict[str, str]) -> None:
    first = submitted(on_workers, "doubling")
    second = submitted(on_workers, "failing")
    assert celery(on_workers, "watch", first).returncode == 0
    assert celery(on_workers, "watch", second).returncode == 1
    listed = celery(on_workers, "runs", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines()]
    assert [line[:3] for line in lines] == [[second, "cli_broken", "failed"],
                                            [first, "cli_doubling", "completed"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line[3]) for line in lines)
    assert celery(on_workers, "runs", "--limit", "0").returncode == 2  # a usage error, said by click


def test_the_same_commands_under_celery_dash_a(on_workers: dict[str, str]) -> None:
    """``celery -A proj graflow ...``: Celery loads the app, our commands run with it."""
    def celery_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "celery", "-A", APP, "graflow", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, env={**os.environ, **on_workers})

    submitted_run = celery_cli("submit", f"{FLOWS}:doubling", "--input", "n=4")
    assert submitted_run.returncode == 0, submitted_run.stderr
    run_id = submitted_run.stdout.strip()
    watched = celery_cli("watch", run_id)
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1] == "completed: 9"
    unknown = celery_cli("status", "0" * 32)
    assert unknown.returncode == 2 and "unknown run" in unknown.stderr
