"""The embedded default backend: runs a workflow in this process on a small thread pool.

Ready steps go through one FIFO queue; ``max_workers`` threads take steps from it and run them
through the engine. With ``max_workers=1`` everything runs in the calling thread, in FIFO order.
"""

from __future__ import annotations

import logging
import queue
import threading

from graflow_celery.backends.memory_store import MemoryRunStore
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.core.context import ExecutionContext, RunLimits, register_run_factory
from graflow_celery.core.engine import RetryRequest, WorkflowEngine
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import Step
from graflow_celery.core.task import TaskWrapper
from graflow_celery.errors import ConfigurationError
from graflow_celery.redact import describe
from graflow_celery.serialization import Serializer, TaggedJSONSerializer

logger = logging.getLogger("graflow_celery.memory")

_STOP = None


class LocalExecutor:
    """Dispatcher of one in-process run: a queue and the threads that drain it."""

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ConfigurationError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self._queue: queue.SimpleQueue[Step | None] = queue.SimpleQueue()
        self._timers: list[threading.Timer] = []

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None:
        for step in steps:
            self._schedule(step, delay)

    def hand_off(self, context: ExecutionContext, step: Step, task: object, args: list[object],
                 kwargs: dict[str, object]) -> bool:
        return False  # in-process: every task runs here

    def launch(self, engine: WorkflowEngine, context: ExecutionContext, first: Step) -> None:
        self._queue.put(first)
        if self.max_workers == 1:
            self._drain(engine, context)
            return
        threads = [threading.Thread(target=self._drain, args=(engine, context), daemon=True,
                                    name=f"graflow-{context.run_id[:8]}-{i}")
                   for i in range(self.max_workers)]
        for thread in threads:
            thread.start()

    def _drain(self, engine: WorkflowEngine, context: ExecutionContext) -> None:
        store = context.store
        while True:
            step = self._queue.get()
            if step is _STOP:
                return
            try:
                outcome = engine.run_step(context, step)
            except BaseException as exc:  # a bug, a store error, KeyboardInterrupt: end the run
                logger.exception("step %s of run %s failed outside the task", step.node, context.run_id)
                store.fail({"kind": "internal", "message": describe(exc),
                            "task_id": step.node})
                self._stop_all()
                if not isinstance(exc, Exception) and self.max_workers == 1:
                    raise  # KeyboardInterrupt and the like belong to the caller's thread
                return
            if isinstance(outcome, RetryRequest):
                self._schedule(outcome.step, outcome.delay)
                store.ack_outbox(step.id, retry=True)
            elif outcome is not None:
                logger.debug("run %s: step %s does nothing: %s", context.run_id, step.id, outcome.reason)
            if store.status() != "running":
                self._stop_all()
                return

    def _schedule(self, step: Step, delay: float) -> None:
        if delay <= 0:
            self._queue.put(step)
            return
        timer = threading.Timer(delay, self._queue.put, args=(step,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _stop_all(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for _ in range(self.max_workers):
            self._queue.put(_STOP)


class MemoryBackend:
    """Builds in-process runs: ``MemoryBackend(max_workers=4).new_run(graph, "start")``."""

    name = "memory"

    def __init__(self, max_workers: int = 4, serializer: Serializer | None = None) -> None:
        self.max_workers = max_workers
        self.serializer = serializer or TaggedJSONSerializer()

    def new_run(
        self,
        graph: TaskGraph,
        start_node: str | None = None,
        *,
        limits: RunLimits | None = None,
        run_id: str | None = None,
        initial_channel: dict[str, object] | None = None,
    ) -> ExecutionContext:
        for node in graph.nodes.values():  # a bound value that could not travel fails here too
            if isinstance(node, TaskWrapper) and node.bound_kwargs:
                node.dump_bound(self.serializer)
        run_graph = graph.copy()
        run_id = run_id or ExecutionContext.new_run_id()
        channel = MemoryChannel(f"run:{run_id}", self.serializer)
        for key, value in (initial_channel or {}).items():
            channel.set(key, value)
        return ExecutionContext(
            run_graph,
            store=MemoryRunStore(run_id, run_graph, self.serializer),
            channel=channel,
            dispatcher=LocalExecutor(self.max_workers),
            serializer=self.serializer,
            limits=limits or RunLimits(),
            start_node=start_node,
        )


def _memory_run(graph: TaskGraph, start_node: str | None, *, limits: RunLimits, run_id: str | None,
                max_workers: int, serializer: Serializer | None, name: str) -> ExecutionContext:
    context = MemoryBackend(max_workers, serializer).new_run(graph, start_node, limits=limits, run_id=run_id)
    context.name = name
    return context


register_run_factory("memory", _memory_run)
