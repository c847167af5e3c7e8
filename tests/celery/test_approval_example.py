"""``examples/approval.py`` runs against a real worker: the refund waits for its approval, parked,
and completes once the demo answers."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.workers import ROOT, Worker


def test_the_approval_example_waits_for_its_answer_on_a_worker(redis_server, worker_logs):
    env = {"GRAFLOW_BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/8"}
    worker = Worker("approval-example", redis_server.url, worker_logs, app_module="examples.approval",
                    extra_env=env).start()
    try:
        worker.wait_ready()
        done = subprocess.run([sys.executable, "-m", "examples.approval"], capture_output=True, text=True,
                              timeout=90, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr + worker.tail()
        waiting, result, history = done.stdout.splitlines()
        assert waiting.startswith("run waiting: Refund 120.0 EUR? (")
        assert result == "paid out 120.0 EUR"
        assert history.startswith("answered True by finance@example.com at ")
    finally:
        worker.stop()
