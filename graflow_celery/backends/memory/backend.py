"""The embedded default backend: a run in this process, its state in Python objects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from graflow_celery.backends.memory.executor import LocalExecutor
from graflow_celery.backends.memory.store import MemoryRunStore
from graflow_celery.channels.base import Channel
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata, encode_graph, save, take
from graflow_celery.core.context import ExecutionContext, RunLimits, register_run_factory
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_state import reopen
from graflow_celery.core.task import TaskWrapper
from graflow_celery.errors import GraflowError
from graflow_celery.serialization import Serializer, TaggedJSONSerializer


class MemoryBackend:
    """Builds in-process runs: ``MemoryBackend(max_workers=4).new_run(graph, "start")``."""

    name = "memory"

    def __init__(self, max_workers: int = 4, serializer: Serializer | None = None,
                 shutdown_timeout: float = 30.0) -> None:
        self.max_workers = max_workers
        self.serializer = serializer or TaggedJSONSerializer()
        self.shutdown_timeout = shutdown_timeout

    def new_run(
        self,
        graph: TaskGraph,
        start_node: str | None = None,
        *,
        limits: RunLimits | None = None,
        run_id: str | None = None,
        initial_channel: dict[str, object] | None = None,
        name: str = "workflow",
        check_bound: bool = True,
        channel: Callable[[str, Serializer], Channel] | None = None,
    ) -> ExecutionContext:
        """``channel``: makes the run's channel from its id and serializer, where it is not the
        default one in memory (graflow's ``channel_backend="redis"``)."""
        for node in graph.nodes.values() if check_bound else ():  # a bound value that could not
            if isinstance(node, TaskWrapper) and node.bound_kwargs:  # travel fails here too
                node.dump_bound(self.serializer)
        run_graph = graph.copy()
        run_id = run_id or ExecutionContext.new_run_id()
        lock = threading.RLock()  # one lock for state and channel: a checkpoint sees both at once
        run_channel = (MemoryChannel(f"run:{run_id}", self.serializer, mutex=lock) if channel is None
                       else channel(run_id, self.serializer))
        for key, value in (initial_channel or {}).items():
            run_channel.set(key, value)
        return ExecutionContext(
            run_graph,
            store=MemoryRunStore(run_id, run_graph, self.serializer, lock=lock),
            channel=run_channel,
            dispatcher=LocalExecutor(self.max_workers, self.shutdown_timeout,
                                     on_failure=failed_run_checkpoint),
            serializer=self.serializer,
            limits=limits or RunLimits(),
            start_node=start_node,
            name=name,
            checkpointer=save_checkpoint,
        )

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None) -> ExecutionContext:
        """A run that goes on from ``checkpoint`` (a failed run's failed steps run again) when
        ``WorkflowEngine().execute(context)`` starts it."""
        graph = checkpoint.decode_graph(self.serializer)
        state = checkpoint.state
        if state.status == "failed":
            state = reopen(state)
        context = self.new_run(graph, checkpoint.metadata.start_node, limits=checkpoint.limits,
                               run_id=run_id, name=checkpoint.name, check_bound=False)  # just decoded
        context.store.restore(state)
        context.channel.load(checkpoint.channel)
        context.resumed = True
        return context


def take_checkpoint(context: ExecutionContext, metadata: dict[str, Any] | None) -> Checkpoint:
    """The run at this instant: state and channel under their one lock."""
    graph = encode_graph(context.graph, context.name, context.serializer)  # type: ignore[arg-type]
    state, channel = context.store.snapshot(context.channel)
    return take(context, graph, state, channel, metadata=metadata, backend="memory")


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
                config: Mapping[str, Any] | None = None) -> ExecutionContext:
    """``config`` has nothing to set for an in-memory channel (graflow accepts and ignores it too)."""
    return MemoryBackend(max_workers, serializer).new_run(graph, start_node, limits=limits, run_id=run_id,
                                                          name=name)


register_run_factory("memory", _memory_run)
