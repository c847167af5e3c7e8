"""Programs written for graflow 0.2 run here with only their import lines changed, and print what
they print under graflow.

``examples/graflow_style/expected/`` holds what each program printed under graflow 0.2.0 with the
imports turned back (``scripts/graflow_style_expected`` makes them again). Where graflow is
installed, the programs are also run under graflow here, so the expectations cannot go stale."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

STYLE = Path(__file__).resolve().parent.parent / "examples" / "graflow_style"
PROGRAMS = sorted(p.name for p in STYLE.glob("*.py"))
IMPORT = re.compile(r"^(from graflow_celery(\.[\w.]+)? import |import graflow_celery\b)")


def run(source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "program.py"
    program.write_text(source)
    path = os.pathsep.join([str(STYLE.parents[1]), os.environ.get("PYTHONPATH", "")])  # this checkout first
    return subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": path})


def as_graflow(source: str) -> str:
    """The program as it was written for graflow: only the import lines differ."""
    return "\n".join(line.replace("graflow_celery", "graflow") if IMPORT.match(line) else line
                     for line in source.split("\n"))


def test_there_are_at_least_eight_programs_each_with_its_expectation():
    assert len(PROGRAMS) >= 8
    assert {p.removesuffix(".py") for p in PROGRAMS} == {p.stem for p in (STYLE / "expected").glob("*.txt")}


@pytest.mark.parametrize("name", PROGRAMS)
def test_only_import_lines_name_this_package(name: str):
    lines = (STYLE / name).read_text().splitlines()
    assert [n for n in lines if "graflow" in n and not IMPORT.match(n)] == []


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_program_prints_what_it_printed_under_graflow(name: str, tmp_path: Path):
    done = run((STYLE / name).read_text(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (STYLE / "expected" / name.replace(".py", ".txt")).read_text()


@pytest.mark.skipif(importlib.util.find_spec("graflow") is None, reason="graflow is not installed")
@pytest.mark.parametrize("name", PROGRAMS)
def test_the_expectation_is_what_graflow_prints(name: str, tmp_path: Path):
    done = run(as_graflow((STYLE / name).read_text()), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (STYLE / "expected" / name.replace(".py", ".txt")).read_text()
