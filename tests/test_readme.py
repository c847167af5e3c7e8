"""The README's first workflow runs as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_workflow_runs(tmp_path):
    section = README.read_text().split("## A workflow", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "readme_workflow.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "{'min': 1, 'max': 5}" in done.stdout


def test_the_readme_picture_is_what_the_first_workflow_draws(tmp_path):
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text.split("## A workflow", 1)[1], re.S).group(1)
    script = tmp_path / "readme_picture.py"
    script.write_text(code + "\nprint(wf.to_mermaid(), end='')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    picture = re.search(r"```mermaid\n(.*?)```", text, re.S).group(1)
    assert done.stdout.endswith(picture)


def test_the_coming_from_graflow_example_runs(tmp_path):
    section = README.read_text().split("## Coming from graflow", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "readme_graflow.py"
    script.write_text(code)
    path = os.pathsep.join([str(README.parent), os.environ.get("PYTHONPATH", "")])  # this checkout first
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["extract", "  -> load"]
    assert any("SPAN END: load - ERROR: warehouse busy" in line for line in lines)  # the retried attempt
    assert lines[-1] == "6 2 ['extract', 'load']"
