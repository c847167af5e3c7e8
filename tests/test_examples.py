"""Every example runs as a user would run it and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "pipeline.py": "2 of 3 passed: ada, grace",
    "diamond.py": "most_common=1",
    "dynamic_tasks.py": "visited: ['/', '/a', '/b', '/c']",
    "loop.py": "sqrt(2) ~= 1.414213562373",
    "group_policies.py": "at_least_n: 2 sources answered: ['cache', 'primary_db']",
    "retries.py": "ok after 2 retries",
    "checkpoint_resume.py": "resumed after the fix: sum of squares = 385",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert EXPECTED[name] in done.stdout


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} >= set(EXPECTED)
