"""ExecutionContext: one run of a workflow - its graph, its state, its channel, its limits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from graflow_celery.channels.results import ResultKeysChannel
from graflow_celery.core import errors_record, events
from graflow_celery.core.context_compat import GraflowContextMixin, Tracer, with_default_retries
from graflow_celery.core.events import RunInfo
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.steps import NewStep
from graflow_celery.core.task import Task
from graflow_celery.core.task_context import TaskExecutionContext as TaskExecutionContext  # graflow's path
from graflow_celery.errors import (
    ConfigurationError,
    GraflowError,
    WorkflowInterruptedError,
    WorkflowParkedError,
    WorkflowTimeoutError,
)
from graflow_celery.handlers import base as handlers
from graflow_celery.redact import describe
from graflow_celery.serialization import Serializer

if TYPE_CHECKING:
    from graflow_celery.channels.base import Channel
    from graflow_celery.core.backend import Dispatcher, RunStore
    from graflow_celery.core.engine import WorkflowEngine
    from graflow_celery.core.feedback_store import FeedbackStore

DEFAULT_MAX_STEPS = 10_000
DEFAULT_MAX_CYCLES = 10  # graflow's: a task runs at most this many times through next_iteration

# Backends register how to build a run here, so that core never imports a backend.
RunFactory = Callable[..., "ExecutionContext"]
# Writes a checkpoint of a run: (context, path or None, user metadata) -> (path, metadata).
Checkpointer = Callable[["ExecutionContext", "str | None", "dict[str, Any] | None"], "tuple[str, Any]"]
_run_factories: dict[str, RunFactory] = {}


def register_run_factory(name: str, factory: RunFactory) -> None:
    _run_factories[name] = factory


@dataclass(frozen=True)
class RunLimits:
    max_steps: int = DEFAULT_MAX_STEPS
    default_max_cycles: int = DEFAULT_MAX_CYCLES

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ConfigurationError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.default_max_cycles < 0:
            raise ConfigurationError(f"max_cycles must be >= 0, got {self.default_max_cycles}")


class ExecutionContext(GraflowContextMixin):
    def __init__(
        self,
        graph: TaskGraph,
        *,
        store: RunStore,
        channel: Channel,
        dispatcher: Dispatcher,
        serializer: Serializer,
        limits: RunLimits,
        start_node: str | None = None,
        name: str = "workflow",
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self.name = name
        self.graph = graph
        self.store = store
        self.channel = channel
        self.dispatcher = dispatcher
        self.serializer = serializer
        self.limits = limits
        self.start_node = start_node
        self.checkpointer = checkpointer
        self.resumed = False  # restored from a checkpoint or reopened: start() sends its frontier
        self.failure_checkpoint: Any = None  # in process: the failed run, to resume once fixed
        self.feedback: FeedbackStore | None = None  # its requests for a person; set by the backend

    @classmethod
    def create(
        cls,
        graph: TaskGraph,
        start_node: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        default_max_cycles: int | None = None,
        default_max_retries: int = 0,
        channel_backend: str = "memory",
        config: Mapping[str, Any] | None = None,
        tracer: Tracer | None = None,
        *,
        name: str = "workflow",
        max_cycles: int | None = None,
        max_workers: int = 4,
        serializer: Serializer | None = None,
        run_id: str | None = None,
        portable: bool = False,
        feedback_backend: str | None = None,
        feedback_config: Mapping[str, Any] | None = None,
    ) -> ExecutionContext:
        """A new run of ``graph`` (graflow's low-level form; ``WorkflowEngine().execute(context)``
        runs it). ``channel_backend``: "memory" (in process), "redis" (in process, the channel in
        Redis: ``config={"redis_client": r}`` or ``{"host":, "port":, "db":}``) or "celery" (on the
        Celery workers). ``default_max_retries``: for tasks that set no retries of their own.
        ``max_cycles`` is ``default_max_cycles`` by its shorter name. ``portable``: on the memory
        backend, values pass ``serializer`` as they would to Celery. ``feedback_backend``: where an
        in-process run keeps its requests for a person - "memory", or "redis" with
        ``feedback_config`` (``MemoryBackend``'s settings); as in graflow, a run whose channel is in
        Redis keeps them there too unless told otherwise."""
        factory = _run_factories.get(channel_backend)
        if factory is None:
            raise ConfigurationError(
                f"unknown channel_backend {channel_backend!r}; known: {sorted(_run_factories)}"
            )
        if max_cycles is not None and default_max_cycles is not None and max_cycles != default_max_cycles:
            raise ConfigurationError(f"max_cycles={max_cycles} and default_max_cycles={default_max_cycles} "
                                     "are one setting; give one of them")
        if tracer is not None and channel_backend == "celery":
            raise ConfigurationError(
                "a tracer sees the lifecycle events of this process, and a Celery run's steps run in its "
                "workers: add middleware there (graflow_celery.core.events.add_middleware) or use "
                "OpenTelemetry (graflow_celery.contrib.otel)")
        cycles = next((c for c in (max_cycles, default_max_cycles) if c is not None), DEFAULT_MAX_CYCLES)
        context = factory(with_default_retries(graph, default_max_retries), start_node,
                          limits=RunLimits(max_steps, cycles), run_id=run_id, max_workers=max_workers,
                          serializer=serializer, name=name, config=config, portable=portable,
                          feedback_backend=feedback_backend, feedback_config=feedback_config)
        context._config = {k: v for k, v in (config or {}).items() if k != "redis_client"}
        if tracer is not None:
            context.tracer = tracer
            tracer.follow_run(context)
        return context

    @staticmethod
    def new_run_id() -> str:
        return uuid.uuid4().hex

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.store.run_id

    @property
    def max_steps(self) -> int:
        return self.limits.max_steps

    @property
    def default_max_cycles(self) -> int:
        return self.limits.default_max_cycles

    def start(self, engine: WorkflowEngine, start_task_id: str | None = None) -> None:
        if self.resumed:  # the run goes on from where its state says: every frontier step is sent
            self.resumed = False
            if self.store.status() == "running":
                self.dispatcher.launch(engine, self, sorted(self.store.frontier().values(),
                                                            key=lambda s: s.number))
            return
        start = self.graph.resolve_start(start_task_id or self.start_node)
        self.graph.validate()
        first = self.store.create(NewStep(start))
        events.emit("run_started", RunInfo(self.run_id, self.name))
        try:
            self.dispatcher.launch(engine, self, [first])
        except (WorkflowParkedError, WorkflowInterruptedError):
            raise  # the run stopped as asked, its checkpoint written: it goes on when resumed
        except Exception as exc:
            self.store.fail({"kind": "internal", "message": f"could not start: {describe(exc)}",
                             "task_id": start})
            raise

    def checkpoint(self, path: str | None = None, metadata: dict[str, Any] | None = None) -> tuple[str, Any]:
        """Write a checkpoint of the run as it is now; returns ``(path, CheckpointMetadata)``."""
        if self.checkpointer is None:
            raise ConfigurationError("this run's backend does not take checkpoints")
        written, info = self.checkpointer(self, path, metadata)
        self.last_checkpoint_path = written
        return written, info

    def wait(self, timeout: float | None = None) -> None:
        if not self.store.wait(timeout):
            raise WorkflowTimeoutError(f"run {self.run_id} did not finish within {timeout}s")

    @property
    def status(self) -> str:
        return self.store.status()

    def final_result(self) -> Any:
        """The last completed task's result, or the run's error raised (carrying, in process, a
        ``checkpoint`` of the failed run to resume once the code is fixed)."""
        try:
            return final_result(self.store, self.serializer)
        except GraflowError as exc:
            if self.failure_checkpoint is not None:
                exc.checkpoint = self.failure_checkpoint  # type: ignore[attr-defined]
            raise

    # --- data ---------------------------------------------------------------------------------------

    def get_result(self, task_id: str, default: Any = None) -> Any:
        raw = self.store.result(task_id)
        return default if raw is None else self.serializer.loads(raw)

    def set_result(self, task_id: str, result: Any) -> None:
        """graflow's, for a ``TaskHandler`` setting the result of the task it runs (outside a
        handler, a task's result is what it returns: ``WorkflowRuntimeError``)."""
        handlers.set_result(task_id, result)

    def results(self) -> dict[str, Any]:
        return {k: self.serializer.loads(v) for k, v in self.store.results().items()}

    def get_channel(self) -> Channel:
        """The run's channel, which also shows each task's result under ``<task id>.__result__``
        (where graflow stores it)."""
        return self._channel_with_results

    @cached_property
    def _channel_with_results(self) -> Channel:
        return ResultKeysChannel(self.channel, self)

    def lookup_params(self, names: list[str]) -> dict[str, Any]:
        """Values for parameters: a task's result by its id first, then a channel key."""
        found = {k: self.serializer.loads(v) for k, v in self.store.results_for(names).items()}
        missing = [n for n in names if n not in found]
        if missing:
            found.update(self.channel.get_many(missing))
        return found


def final_result(store: RunStore, serializer: Serializer) -> Any:
    """A finished run's last result, or its error raised as the typed exception."""
    status = store.status()
    if status == "completed":
        raw = store.last_result()
        return None if raw is None else serializer.loads(raw)
    record = store.error()
    if status == "missing":
        raise ConfigurationError(f"run {store.run_id} does not exist (unknown id, or its state expired)")
    if record is None:
        raise WorkflowTimeoutError(f"run {store.run_id} is still {status}")
    raise errors_record.to_exception(record)


def create_execution_context(start_node: str = "ROOT", max_steps: int = 10,
                             tracer: Tracer | None = None) -> ExecutionContext:
    """graflow's helper: a run of a one-task graph whose task, ``start_node``, does nothing."""
    graph = TaskGraph()
    graph.add_node(Task(start_node, register_to_context=False))
    return ExecutionContext.create(graph, start_node, max_steps=max_steps, tracer=tracer)
