"""Celery's eager mode for workflows.

With ``task_always_eager`` on - as many Django test settings have it - Celery runs a task inside
``apply_async`` instead of sending it, but ``send_task``, which sends workflow steps, ignores the
setting: a submitted run would wait for workers that never come. So an eager app's runs are
built here instead, and ``submit`` runs the workflow to its end before it returns: in this
thread, on the memory backend's executor with one worker, with the app's serializer (tagged
JSON, or signed pickle when ``graflow_pickle_key`` is set) - so a value, or a task, that could
not reach a worker fails here too. The run's state lives in this process, in the handle
``submit`` returns: no Redis, no broker (``broker_url = "memory://"`` will do), and no run to
re-attach to by id later. With ``task_eager_propagates`` on, ``submit`` raises the run's error,
as Celery raises an eager task's from ``apply_async``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from graflow_celery.backends.celery.keys import check_run_id
from graflow_celery.backends.celery.runtime import value_codecs
from graflow_celery.backends.memory import MemoryBackend
from graflow_celery.backends.memory.run import InProcessRun
from graflow_celery.checkpoints import Checkpoint
from graflow_celery.core.context import ExecutionContext, RunLimits
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.graph import TaskGraph
from graflow_celery.errors import ConfigurationError


def eager(app: Celery) -> bool:
    """Whether ``app`` runs tasks eagerly (``task_always_eager``; in Django settings with the
    ``CELERY`` namespace, ``CELERY_TASK_ALWAYS_EAGER``). Read at each call, like Celery does."""
    return bool(app.conf.task_always_eager)


class EagerRuns:
    """An eager app's runs, each run to its end by ``start``, in this process."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        serializer, self._codec = value_codecs(app.conf.get("graflow_pickle_key"), app)
        self._memory = MemoryBackend(max_workers=1, serializer=serializer, portable=True)
        self._propagates = bool(app.conf.task_eager_propagates)

    def new_run(self, graph: TaskGraph, name: str, start_node: str | None, limits: RunLimits,
                run_id: str | None = None, queue: str | None = None) -> ExecutionContext:
        """Checked as the Celery backend checks a run before storing it (``queue`` means nothing
        here: there are no queues)."""
        start = graph.resolve_start(start_node)
        graph.validate()
        self._codec.encode(graph, name)  # a task a worker could not import fails here as well
        return self._memory.new_run(graph, start, limits=limits, run_id=_checked(run_id), name=name)

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None,
                queue: str | None = None) -> ExecutionContext:
        return self._memory.restore(checkpoint, run_id=_checked(run_id))

    def start(self, context: ExecutionContext, inputs: dict[str, Any] | None = None) -> InProcessRun:
        """Run it to its end, here; with ``task_eager_propagates``, raise its error."""
        context.start(WorkflowEngine())
        if self._propagates:
            context.final_result()  # raises if it failed or was cancelled
        return InProcessRun(context)

    def stored(self, context: ExecutionContext) -> InProcessRun:
        return InProcessRun(context)

    def discard(self, context: ExecutionContext, reason: str) -> bool:
        return context.store.discard(reason)

    def attach(self, run_id: str) -> InProcessRun:
        raise ConfigurationError(
            f"cannot re-attach to run {run_id!r}: the Celery app {self.app.main!r} runs workflows "
            "eagerly (task_always_eager), so a run ends inside submit() and its state lives only in "
            "the run handle submit() returned, not in Redis - keep that handle")


def _checked(run_id: str | None) -> str | None:
    return None if run_id is None else check_run_id(run_id)
