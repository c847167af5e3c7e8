"""What graflow programs read on an ``ExecutionContext`` besides its results and channel:
``session_id``, ``trace_id``, ``steps``, ``completed_tasks``, ``config``, ``last_checkpoint_path``,
``tracer``. ``ExecutionContext`` inherits these; they read the run's store, so they are the same
on both backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.retry import RetryPolicy
from graflow_celery.core.task import TaskWrapper
from graflow_celery.errors import ConfigurationError

if TYPE_CHECKING:
    from graflow_celery.core.backend import RunStore
    from graflow_celery.core.context import ExecutionContext


class Tracer(Protocol):
    """What a run needs of a tracer (``graflow_celery.trace.Tracer`` and its subclasses)."""

    def follow_run(self, context: ExecutionContext) -> None:
        """Receive this run's lifecycle events, in this process, until it finishes."""
        ...


class GraflowContextMixin:
    store: RunStore
    tracer: Tracer | None = None  # set by ExecutionContext.create(tracer=...) / workflow(tracer=...)
    last_checkpoint_path: str | None = None  # the last checkpoint this process wrote of the run
    _config: dict[str, Any] | None = None

    @property
    def session_id(self) -> str:
        """The run's id (graflow's name for it)."""
        return self.store.run_id

    @property
    def trace_id(self) -> str:
        return self.store.run_id

    @property
    def steps(self) -> int:
        """How many steps the run has applied so far: tasks, iterations and retried tasks once
        each, and a parallel group's launch and judgement."""
        return self.store.progress()[0]

    @property
    def completed_tasks(self) -> list[str]:
        """The tasks (and groups) that have completed, each once - in the order they completed on
        the memory backend; in Redis's order on Celery."""
        return list(self.store.results())

    @property
    def config(self) -> dict[str, Any]:
        """The ``config`` given to ``ExecutionContext.create``, without a ``redis_client``."""
        return dict(self._config or {})


def with_default_retries(graph: TaskGraph, max_retries: int) -> TaskGraph:
    """``graph`` itself, or (``max_retries`` > 0) a copy in which every task that sets no retries
    of its own retries ``max_retries`` times - graflow's ``default_max_retries``. The copy is what
    the run stores, so the Celery workers and checkpoints see the same retries."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"default_max_retries must be a whole number >= 0, got {max_retries!r}")
    if max_retries == 0:
        return graph
    run_graph = graph.copy()
    default = RetryPolicy(max_retries=max_retries, initial_interval=0.0)
    for node_id, node in graph.nodes.items():
        if isinstance(node, TaskWrapper) and not node.own_retries:
            options = {**node.options(), "retry_policy": default}
            run_graph.nodes[node_id] = TaskWrapper(node_id, node.func, bound_kwargs=node.bound_kwargs,
                                                   register=False, **options)
    return run_graph
