"""The README's Celery example runs against a real worker."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.workers import ROOT, Worker


def test_examples_celery_app_runs_workflows_on_a_worker(redis_server, worker_logs):
    env = {"GRAFLOW_BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/3"}
    worker = Worker("examples", redis_server.url, worker_logs, app_module="examples.celery_app",
                    extra_env=env).start()
    try:
        worker.wait_ready()
        done = subprocess.run([sys.executable, "-m", "examples.celery_app"], capture_output=True, text=True,
                              timeout=90, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr + worker.tail()
        assert "etl: 2 of 3 passed: ada, grace" in done.stdout
        assert "diamond: stats=" in done.stdout
    finally:
        worker.stop()
