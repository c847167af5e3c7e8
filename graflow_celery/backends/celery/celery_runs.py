"""Runs kept in the app's Redis and run by its workers: how ``submit`` builds and starts them,
and what a run handle asks of one (``core/run_handle.py``)."""

from __future__ import annotations

from typing import Any

from graflow_celery.backends.celery import run_events
from graflow_celery.backends.celery.dispatcher import message_id
from graflow_celery.backends.celery.feedback_store import RedisFeedback
from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.backends.celery.run_index import RunIndex
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.backends.celery.worker import ENGINE, RETRYABLE
from graflow_celery.channels.base import Channel
from graflow_celery.checkpoints import Checkpoint, save
from graflow_celery.core.context import ExecutionContext, RunLimits
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import Step
from graflow_celery.errors import ConfigurationError, RunAlreadyStartedError, WorkflowDiscardedError
from graflow_celery.graph_codec import graph_shape
from graflow_celery.redact import redact
from graflow_celery.serialization import Serializer


class CeleryRun:
    """One run in Redis. Reading it needs neither its graph nor its code: a process that did not
    define the workflow can follow it; only ``send`` and ``checkpoint`` load the graph."""

    def __init__(self, runtime: Runtime, run_id: str) -> None:
        self._runtime = runtime
        self.run_id = run_id
        self.store: RedisRunStore = runtime._store(run_id)
        self.channel: Channel = runtime._channel(run_id)
        self.serializer: Serializer = runtime.serializer
        self.feedback: RedisFeedback = runtime.feedback(run_id)

    @property
    def name(self) -> str:
        return self._runtime.workflow_name(self.run_id)

    def graph(self) -> TaskGraph:
        """The run's shape (``graph_shape``): no task's code is imported."""
        keys = self.store.keys
        raw, added = self._runtime.client.get(keys.graph), self._runtime.client.hgetall(keys.dynamic)
        if raw is None:
            raise ConfigurationError(f"run {self.run_id} does not exist (unknown id, or its state expired)")
        return graph_shape(raw, {node.decode(): spec for node, spec in added.items()})

    def send(self, steps: list[Step]) -> None:
        context = self._runtime.context_for(self.run_id)  # its graph routes each step to its queue
        if context is not None:  # else its state expired meanwhile
            context.dispatcher.send(context, steps)

    def revoke(self, steps: list[Step]) -> None:
        self._runtime.app.control.revoke([message_id(self.run_id, step.id) for step in steps])

    def ended(self, status: str, record: dict[str, Any] | None) -> None:
        run_events.run_finished(self._runtime.app, self.run_id, status, record)  # the run's Flower record

    def checkpoint(self, path: str | None, metadata: dict[str, Any] | None) -> str:
        written, _ = save(self._runtime.take_checkpoint(self.run_id, metadata), path)
        return written

    def unavailable(self, exc: Exception) -> bool:
        return isinstance(exc, RETRYABLE)  # what a worker retries a message on


class CeleryRuns:
    """The app's runs in Redis: ``start`` sends a run's first step (or a restored run's frontier)
    to the workers and returns at once."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.index = RunIndex(runtime.client, runtime.app.main or "default", settings.run_index_size,
                              settings.state_ttl)

    def new_run(self, graph: TaskGraph, name: str, start_node: str | None, limits: RunLimits,
                run_id: str | None = None, queue: str | None = None) -> ExecutionContext:
        start = graph.resolve_start(start_node)
        graph.validate()
        context = self.runtime.new_run(graph, name, start, limits, run_id=run_id, queue=queue)
        self.index.add(context.run_id)
        return context

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None,
                queue: str | None = None) -> ExecutionContext:
        context = self.runtime.restore(checkpoint, run_id=run_id, queue=queue)
        self.index.add(context.run_id)
        return context

    def stored(self, context: ExecutionContext) -> CeleryRun:
        return CeleryRun(self.runtime, context.run_id)

    def discard(self, context: ExecutionContext, reason: str) -> bool:
        return context.store.discard(reason)  # it never started: nothing was announced, nothing sent

    def start(self, context: ExecutionContext, inputs: dict[str, Any] | None = None) -> CeleryRun:
        context.start(ENGINE)
        run_events.run_started(self.runtime.app, context.run_id, context.name, inputs)
        return CeleryRun(self.runtime, context.run_id)

    def start_pending(self, run_id: str) -> str:
        """Start a run stored by ``new_run`` and not started, knowing only its id - in any process
        of the app that can import its tasks. Returns the status the run had: "pending" if this
        call started it; else "missing" (unknown or expired), "discarded", or the status of a run
        that had started already - and nothing changed. Two processes racing here start it once
        (``create_run.lua``)."""
        context = self.runtime.context_for(run_id)
        if context is None:
            return "missing"
        status = context.store.status()
        if status != "pending":
            return status
        start_node = self.runtime.client.hget(RunKeys(run_id).meta, "start_node")
        context.start_node = start_node.decode() if start_node else None
        try:
            self.start(context, context.channel.get_many(context.channel.keys()))  # its inputs, for Flower
        except RunAlreadyStartedError as exc:
            return exc.status
        except WorkflowDiscardedError:
            return "discarded"
        return "pending"

    def attach(self, run_id: str) -> CeleryRun:
        run = CeleryRun(self.runtime, run_id)
        if not run.store.exists():
            raise ConfigurationError(
                f"no run {run_id!r} in {redact(self.runtime.settings.state_url)} (unknown or expired)")
        return run
