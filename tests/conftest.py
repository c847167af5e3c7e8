"""Shared fixtures. ``runner`` is parametrised by backend: every contract test runs on each.

The Celery backend runs against a private ``redis-server`` on a free port and two real worker
processes, started once per test session.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import graflow_celery
from graflow_celery import CheckpointManager, ExecutionContext, GraflowError, WorkflowEngine
from tests.support.redis_server import RedisServer
from tests.support.workers import Worker, wait_for_workers

BACKENDS = ["memory", "celery"]


class Runner:
    """Runs a workflow on one backend and returns ``(result, context)`` like ``wf.execute``."""

    def __init__(self, backend: str, max_workers: int = 4) -> None:
        self.name = backend
        self.max_workers = max_workers

    def execute(self, wf: Any, **kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("max_workers", self.max_workers)
        return wf.execute(ret_context=True, backend=self.name, **kwargs)

    def run_context(self, wf: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
        """Run and return the context even when the run fails (to look at what happened)."""
        context = ExecutionContext.create(wf.graph, channel_backend=self.name, name=wf.name,
                                          max_workers=self.max_workers, **kwargs)
        try:
            WorkflowEngine().execute(context)
        except Exception as exc:
            return context, exc
        return context, None


    def resume(self, checkpoint: Any, channel: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """Resume a checkpoint (a path or a ``Checkpoint``) on this backend; returns the result
        and the channel of the resumed run."""
        if self.name == "memory":
            context, _ = CheckpointManager.resume_from_checkpoint(checkpoint)
            for key, value in (channel or {}).items():
                context.channel.set(key, value)
            return WorkflowEngine().execute(context), context.get_channel()
        run = graflow_celery.resume(checkpoint)
        for key, value in (channel or {}).items():
            run.get_channel().set(key, value)
        return run.result(timeout=60), run.get_channel()

    def fail_then_resume(self, wf: Any, fix: dict[str, Any]) -> tuple[Exception, Any, Any]:
        """Run ``wf`` to its failure, write ``fix`` into its channel, resume it: returns the
        error, the resumed run's result and its channel."""
        if self.name == "memory":
            try:
                wf.execute(max_workers=self.max_workers)
            except GraflowError as exc:
                result, channel = self.resume(exc.checkpoint, fix)  # type: ignore[attr-defined]
                return exc, result, channel
            raise AssertionError("the run did not fail")
        run = graflow_celery.submit(wf)
        assert run.wait(timeout=60) == "failed"
        try:
            run.result()
        except GraflowError as exc:
            error = exc
        for key, value in fix.items():
            run.get_channel().set(key, value)
        run.resume()
        return error, run.result(timeout=60), run.get_channel()


MemoryRunner = Runner  # memory is the default backend


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def celery_app(redis_server: RedisServer) -> Any:
    os.environ["GRAFLOW_TEST_REDIS_URL"] = redis_server.url
    module = importlib.import_module("tests.support.celery_app")
    module = importlib.reload(module)  # the URL is read at import time
    module.app.set_default()
    module.app.set_current()
    return module.app


@pytest.fixture(scope="session")
def worker_logs() -> Path:
    return Path(tempfile.mkdtemp(prefix="graflow-workers-"))


@pytest.fixture(scope="session")
def celery_workers(redis_server: RedisServer, celery_app: Any, worker_logs: Path) -> Iterator[list[Worker]]:
    # A module no message may make a worker import leaves this file behind if it is imported.
    env = {"GRAFLOW_EVIL_MARKER": str(worker_logs / "evil-imported")}
    workers = [Worker(f"w{i}", redis_server.url, worker_logs, extra_env=env).start() for i in (1, 2)]
    try:
        wait_for_workers(redis_server.url, workers)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest) -> Runner:
    if request.param == "celery":
        request.getfixturevalue("celery_workers")
    return Runner(request.param)
