"""The embedded default backend: a run in this process, its state in Python objects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from graflow_celery.backends.memory.executor import LocalExecutor
from graflow_celery.backends.memory.feedback import MemoryFeedback, track
from graflow_celery.backends.memory.store import MemoryRunStore, round_tripped
from graflow_celery.channels.base import Channel
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.checkpoint_values import encode, recode, writer, written_as
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata, encode_graph, save, take
from graflow_celery.core import feedback_store
from graflow_celery.core.context import ExecutionContext, RunLimits, register_run_factory
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_state import reopen
from graflow_celery.errors import GraflowError
from graflow_celery.serialization import InProcessValues, Serializer, TaggedJSONSerializer


class MemoryBackend:
    """Builds in-process runs: ``MemoryBackend(max_workers=4).new_run(graph, "start")``.

    Values - results, channel values, bound arguments, ``next_iteration`` data - are the Python
    objects themselves, as in graflow: anything works, nothing is copied. With ``portable=True``
    every value is written by ``serializer`` (tagged JSON unless given: what a Celery app uses)
    and read back, so a task sees exactly what it would on a worker, and a value that could not
    travel fails here, naming the task and the value's type. ``serializer`` also writes the
    run's checkpoints (signed pickle, or JSON with pickle where JSON cannot carry a value).

    Requests for feedback are kept with the run (``feedback_backend="memory"``), or - graflow's
    configuration - in Redis, where another process lists and answers them:
    ``feedback_backend="redis", feedback_config={"redis_client": client}`` (or "url", or
    "host"/"port"/"db"; "expiration_days": how long they are kept, 7 by default)."""

    name = "memory"

    def __init__(self, max_workers: int = 4, serializer: Serializer | None = None,
                 shutdown_timeout: float = 30.0, *, portable: bool = False,
                 feedback_backend: str = "memory", feedback_config: dict[str, Any] | None = None) -> None:
        self.max_workers = max_workers
        self.serializer = serializer or TaggedJSONSerializer()  # as the values would travel
        self.shutdown_timeout = shutdown_timeout
        self.portable = portable
        self.values: Serializer = self.serializer if portable else InProcessValues(self.serializer)
        self.feedback_backend = feedback_backend
        self.feedback_config = dict(feedback_config or {})
        if feedback_backend != "memory":
            feedback_store.feedback_backend(feedback_backend)  # an unknown name fails here

    def new_run(
        self,
        graph: TaskGraph,
        start_node: str | None = None,
        *,
        limits: RunLimits | None = None,
        run_id: str | None = None,
        initial_channel: dict[str, object] | None = None,
        name: str = "workflow",
        channel: Callable[[str, Serializer], Channel] | None = None,
    ) -> ExecutionContext:
        """``channel``: makes the run's channel from its id and serializer, where it is not the
        default one in memory (graflow's ``channel_backend="redis"``: its values travel, so it
        gets the real serializer)."""
        run_graph = graph.copy()
        if self.portable:  # bound values as a worker reads them; one that cannot travel fails here
            for node_id, node in run_graph.nodes.items():
                run_graph.nodes[node_id] = round_tripped(node, self.serializer)
        run_id = run_id or ExecutionContext.new_run_id()
        lock = threading.RLock()  # one lock for state and channel: a checkpoint sees both at once
        run_channel = (MemoryChannel(f"run:{run_id}", self.values, mutex=lock) if channel is None
                       else channel(run_id, self.serializer))
        for key, value in (initial_channel or {}).items():
            run_channel.set(key, value)
        store = MemoryRunStore(run_id, run_graph, self.serializer if self.portable else None, lock=lock)
        context = ExecutionContext(
            run_graph,
            store=store,
            channel=run_channel,
            dispatcher=LocalExecutor(self.max_workers, self.shutdown_timeout,
                                     on_failure=failed_run_checkpoint),
            serializer=self.values,
            limits=limits or RunLimits(),
            start_node=start_node,
            name=name,
            checkpointer=save_checkpoint,
        )
        context.feedback = self._feedback(store, lock, run_id)
        track(context)  # another thread of this process can answer its requests
        return context

    def _feedback(self, store: MemoryRunStore, lock: threading.RLock,
                  run_id: str) -> feedback_store.FeedbackStore:
        if self.feedback_backend == "memory":
            return MemoryFeedback(store, lock)
        return feedback_store.feedback_backend(self.feedback_backend)(run_id, self.feedback_config)

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None) -> ExecutionContext:
        """A run that goes on from ``checkpoint`` (a failed run's failed steps run again) when
        ``WorkflowEngine().execute(context)`` starts it. Everything is checked, and every value
        read, before the run exists."""
        graph = checkpoint.decode_graph(self.values)
        state, channel = recode(checkpoint.state, checkpoint.channel, checkpoint.values, self.values)
        if state.status == "failed":
            state = reopen(state)
        context = self.new_run(graph, checkpoint.metadata.start_node, limits=checkpoint.limits,
                               run_id=run_id, name=checkpoint.name)
        context.store.restore(state)
        context.channel.load(channel)
        if context.feedback is not None and not context.feedback.in_run_state:
            context.feedback.load(state.feedback)
        context.resumed = True
        return context


def take_checkpoint(context: ExecutionContext, metadata: dict[str, Any] | None) -> Checkpoint:
    """The run at this instant: state and channel under their one lock. Python objects are
    written after the lock is released, as they are then."""
    state, channel = context.store.snapshot(context.channel)
    if context.feedback is not None and not context.feedback.in_run_state:  # kept in Redis
        state.feedback = context.feedback.records()
    values = writer(context.serializer)
    if values is not context.serializer:
        state, channel = encode(state, channel, context.serializer, values)
    graph = encode_graph(context.graph, context.name, values)  # type: ignore[arg-type]
    return take(context, graph, state, channel, metadata=metadata, backend="memory",
                values=written_as(values))


def save_checkpoint(context: ExecutionContext, path: str | None,
                    metadata: dict[str, Any] | None) -> tuple[str, CheckpointMetadata]:
    return save(take_checkpoint(context, metadata), path)


def failed_run_checkpoint(context: ExecutionContext) -> Checkpoint | None:
    """A failed in-process run, to resume once the code is fixed (None if its graph cannot be
    written down: tasks that are not importable, without signed pickle)."""
    try:
        return take_checkpoint(context, {"reason": "the run failed"})
    except GraflowError:
        return None


def _memory_run(graph: TaskGraph, start_node: str | None, *, limits: RunLimits, run_id: str | None,
                max_workers: int, serializer: Serializer | None, name: str,
                config: Mapping[str, Any] | None = None, portable: bool = False,
                feedback_backend: str | None = None,
                feedback_config: Mapping[str, Any] | None = None) -> ExecutionContext:
    """``config`` has nothing to set for an in-memory channel (graflow accepts and ignores it too)."""
    backend = MemoryBackend(max_workers, serializer, portable=portable,
                            feedback_backend=feedback_backend or "memory",
                            feedback_config=dict(feedback_config or {}))
    return backend.new_run(graph, start_node, limits=limits, run_id=run_id, name=name)


register_run_factory("memory", _memory_run)
