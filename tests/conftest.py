"""Shared fixtures. ``runner`` is parametrised by backend: every contract test runs on each.

- "memory": in process, in portable mode: every value round-trips through tagged JSON as it
  would to a worker, so the memory and Celery backends cannot drift apart;
- "memory-objects": in process with Python objects passed as they are (the default in process);
- "celery": a private ``redis-server`` on a free port (broker and run state) and two real worker
  processes;
- "celery-amqp": RabbitMQ as the broker (a private vhost of the machine's RabbitMQ), results and
  run state on the same redis-server (database 1), and two workers of its own.

Servers and workers are started once per test session, when a test first needs them. Without
RabbitMQ, the "celery-amqp" tests skip, saying why - except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, current_app

import graflow_celery
from graflow_celery import CheckpointManager, ExecutionContext, GraflowError, WorkflowEngine
from graflow_celery.backends.celery.runtime import Runtime
from tests.support.rabbitmq import RabbitMQUnavailable, RabbitVhost
from tests.support.redis_server import RedisServer
from tests.support.workers import Worker, wait_for_workers

BACKENDS = ["memory", "memory-objects", "celery", "celery-amqp"]


class Runner:
    """Runs a workflow on one backend and returns ``(result, context)`` like ``wf.execute``.
    ``name`` is the test parameter (one of ``BACKENDS``); ``backend`` the engine's backend,
    "memory" or "celery" - whose runs go to ``app``, made Celery's current app for each call.
    Every run is portable (values round-trip as on a worker) except on "memory-objects"."""

    def __init__(self, name: str, max_workers: int = 4, app: Celery | None = None) -> None:
        self.name = name
        self.app = app
        self.backend = "memory" if app is None else "celery"
        self.max_workers = max_workers
        self.portable = name != "memory-objects"

    @property
    def state_url(self) -> str:
        """The Redis holding this backend's run state."""
        assert self.app is not None, "the memory backend has no Redis"
        return Runtime.for_app(self.app).settings.state_url

    @contextmanager
    def _on_app(self) -> Iterator[None]:
        if self.app is None:
            yield
            return
        previous = current_app._get_current_object()
        self.app.set_current()
        try:
            yield
        finally:
            previous.set_current()

    def execute(self, wf: Any, **kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("max_workers", self.max_workers)
        with self._on_app():
            return wf.execute(ret_context=True, backend=self.backend, portable=self.portable, **kwargs)

    def run_context(self, wf: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
        """Run and return the context even when the run fails (to look at what happened)."""
        with self._on_app():
            context = ExecutionContext.create(wf.graph, channel_backend=self.backend, name=wf.name,
                                              max_workers=self.max_workers, portable=self.portable, **kwargs)
            try:
                WorkflowEngine().execute(context)
            except Exception as exc:
                return context, exc
            return context, None

    def resume(self, checkpoint: Any, channel: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """Resume a checkpoint (a path or a ``Checkpoint``) on this backend; returns the result
        and the channel of the resumed run."""
        if self.app is None:
            context, _ = CheckpointManager.resume_from_checkpoint(checkpoint, portable=self.portable)
            for key, value in (channel or {}).items():
                context.channel.set(key, value)
            return WorkflowEngine().execute(context), context.get_channel()
        with self._on_app():
            run = graflow_celery.resume(checkpoint, app=self.app)
        for key, value in (channel or {}).items():
            run.get_channel().set(key, value)
        return run.result(timeout=60), run.get_channel()

    def fail_then_resume(self, wf: Any, fix: dict[str, Any]) -> tuple[Exception, Any, Any]:
        """Run ``wf`` to its failure, write ``fix`` into its channel, resume it: returns the
        error, the resumed run's result and its channel."""
        if self.app is None:
            try:
                wf.execute(max_workers=self.max_workers, portable=self.portable)
            except GraflowError as exc:
                result, channel = self.resume(exc.checkpoint, fix)  # type: ignore[attr-defined]
                return exc, result, channel
            raise AssertionError("the run did not fail")
        with self._on_app():
            run = graflow_celery.submit(wf, app=self.app)
        assert run.wait(timeout=60) == "failed"
        try:
            run.result()
        except GraflowError as exc:
            error = exc
        for key, value in fix.items():
            run.get_channel().set(key, value)
        with self._on_app():
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


@contextmanager
def two_workers(prefix: str, redis_url: str, logs: Path,
                broker_url: str | None = None) -> Iterator[list[Worker]]:
    # A module no message may make a worker import leaves this file behind if it is imported.
    env = {"GRAFLOW_EVIL_MARKER": str(logs / "evil-imported")}
    workers = [Worker(f"{prefix}{i}", redis_url, logs, extra_env=env, broker_url=broker_url).start()
               for i in (1, 2)]
    try:
        wait_for_workers(redis_url, workers)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture(scope="session")
def celery_workers(redis_server: RedisServer, celery_app: Any, worker_logs: Path) -> Iterator[list[Worker]]:
    with two_workers("w", redis_server.url, worker_logs) as workers:
        yield workers


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextmanager
def private_vhost() -> Iterator[RabbitVhost]:
    """A vhost of its own on the machine's RabbitMQ, deleted afterwards. Without RabbitMQ the test
    is skipped, saying why - or fails, in CI."""
    try:
        vhost = RabbitVhost().create()
    except RabbitMQUnavailable as exc:
        if in_ci():
            pytest.fail(f"RabbitMQ is needed in CI and cannot be used: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unavailable: {exc}")
    try:
        yield vhost
    finally:
        vhost.delete()


@pytest.fixture(scope="session")
def rabbitmq_vhost() -> Iterator[RabbitVhost]:
    """The "celery-amqp" backend's vhost."""
    with private_vhost() as vhost:
        yield vhost


@pytest.fixture(scope="session")
def amqp_app(redis_server: RedisServer, celery_app: Any, rabbitmq_vhost: RabbitVhost) -> Celery:
    """The "celery-amqp" backend's app: RabbitMQ broker; results and run state in Redis database 1
    (apart from the "celery" backend's, lease index included)."""
    make_app = importlib.import_module("tests.support.celery_app").make_app
    return make_app("graflow_tests_amqp", redis_server.db_url(1), broker_url=rabbitmq_vhost.url,
                    set_as_current=False)


@pytest.fixture(scope="session")
def amqp_workers(redis_server: RedisServer, amqp_app: Celery, rabbitmq_vhost: RabbitVhost,
                 worker_logs: Path) -> Iterator[list[Worker]]:
    with two_workers("a", redis_server.db_url(1), worker_logs, broker_url=rabbitmq_vhost.url) as workers:
        yield workers


def runner_for(request: pytest.FixtureRequest, name: str) -> Runner:
    """The runner of one of ``BACKENDS``, its workers started (once per session)."""
    if name == "celery":
        request.getfixturevalue("celery_workers")
        return Runner(name, app=request.getfixturevalue("celery_app"))
    if name == "celery-amqp":
        request.getfixturevalue("amqp_workers")
        return Runner(name, app=request.getfixturevalue("amqp_app"))
    return Runner(name)


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest) -> Runner:
    return runner_for(request, request.param)


@pytest.fixture(params=BACKENDS)
def resumer(request: pytest.FixtureRequest) -> Runner:
    """The backend a checkpoint is resumed on (the ``runner`` took it)."""
    return runner_for(request, request.param)
