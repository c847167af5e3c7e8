"""The README's "Task handlers" examples run as printed: the workflow, and the Docker handler -
through a stand-in ``docker`` that runs the command as ``docker run -i`` would (stdin and stdout
passed through, ``-e`` variables set), since no Docker engine is needed to show the seam."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from graflow_celery import ExecutionContext, TaskWrapper, WorkflowEngine, workflow

ROOT = Path(__file__).resolve().parent.parent
SECTION = (ROOT / "README.md").read_text().split("## Task handlers", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, re.S)


def test_the_handlers_example_runs(tmp_path):
    script = tmp_path / "handlers_example.py"
    script.write_text(BLOCKS[0])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^report took \d+\.\d+s$", done.stdout, re.M), done.stdout
    pids = re.search(r"^14 \(computed in process (\d+), not (\d+)\)$", done.stdout, re.M)
    assert pids and pids[1] != pids[2], done.stdout


FAKE_DOCKER = textwrap.dedent("""\
    #!{python}
    # docker run -i --rm [-e K=V]... IMAGE CMD...: runs CMD here with stdin and stdout passed through
    import os, sys
    args = sys.argv[1:]
    assert args[:3] == ["run", "-i", "--rm"], args
    args, env = args[3:], dict(os.environ, PYTHONPATH={root!r})
    while args[0] == "-e":
        key, _, value = args[1].partition("=")
        env[key], args = value, args[2:]
    image, command = args[0], args[1:]
    env["IMAGE"] = image
    command[0] = sys.executable if command[0] == "python" else command[0]
    os.execve(command[0], command, env)
""")


def in_the_container() -> tuple[str, str, int]:
    return os.environ["TASK_ID"], os.environ["IMAGE"], os.getpid()


def test_the_docker_handler_example_runs_through_a_docker_that_passes_stdio(tmp_path, monkeypatch):
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable, root=str(ROOT)))
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[1], "README: DockerTaskHandler", "exec"), namespace)  # registers "py312"
    handler = namespace["DockerTaskHandler"]("myorg/tasks:py3.12")  # type: ignore[operator]
    assert handler.start == "spawn"
    with workflow("dockerised") as wf:
        wf.add(TaskWrapper("in_the_container", in_the_container, handler="py312"))
    task_id, image, pid = WorkflowEngine().execute(ExecutionContext.create(wf.graph))
    assert (task_id, image) == ("in_the_container", "myorg/tasks:py3.12") and pid != os.getpid()
