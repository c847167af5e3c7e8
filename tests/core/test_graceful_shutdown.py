"""SIGINT or SIGTERM to a process running ``wf.execute()``: running tasks finish (or stop early
via ``ctx.should_stop()``), a checkpoint is written, and resuming it finishes the run without
running again what had completed. Runs examples/checkpoint_resume.py as a user would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graflow_celery import Checkpoint

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checkpoint_resume.py"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_gracefully_and_the_checkpoint_resumes_it(tmp_path, sig):
    env = {**os.environ, "CHUNK_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = [proc.stderr.readline() for _ in range(2)]  # crunch is in its chunks (10 x 0.2 s)
    assert seen[-1].startswith("crunch: chunk 2"), seen
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    path = re.search(r"--resume (\S+)", out).group(1)  # type: ignore[union-attr]
    checkpoint = Checkpoint.load(tmp_path / path)
    [crunch] = checkpoint.state.frontier.values()
    assert (crunch.node, crunch.attempt) == ("crunch", 0)  # stopped by the shutdown: no retry spent
    assert 0 < len(checkpoint.channel["squares"].value) < 10  # it stopped part way
    assert checkpoint.metadata.user_metadata == {"reason": f"interrupted by {signal.Signals(sig).name}"}

    done = subprocess.run([sys.executable, str(EXAMPLE), "--resume", path], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "sum of squares = 385; tasks that ran: fetch, crunch, crunch, report" in done.stdout
