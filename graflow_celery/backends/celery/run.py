"""Submitting a workflow through a Celery app, and the handle on its run: ``WorkflowRun``.

Where an app's runs live is decided in one place, ``runs_for(app)``: in Redis, run by the app's
workers (``celery_runs.py``), or - with Celery's eager mode on - in this process, run inside
``submit`` (``eager.py``). ``submit``, ``resume``, ``WorkflowRun`` and the ``"celery"`` run
factory all go through the object it returns.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from celery import Celery

from graflow_celery.backends.celery.celery_runs import CeleryRuns
from graflow_celery.backends.celery.eager import EagerRuns, eager
from graflow_celery.backends.celery.keys import RUN_ID_PATTERN
from graflow_celery.backends.celery.run_index import RunSummary
from graflow_celery.backends.celery.runtime import Runtime, resolve_app
from graflow_celery.checkpoints import Checkpoint
from graflow_celery.core.context import (
    DEFAULT_MAX_CYCLES,
    DEFAULT_MAX_STEPS,
    ExecutionContext,
    RunLimits,
)
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_handle import RunHandle, StoredRun
from graflow_celery.core.workflow import WorkflowContext, workflows
from graflow_celery.errors import ConfigurationError


class Runs(Protocol):
    """Where an app's runs live."""

    def new_run(self, graph: TaskGraph, name: str, start_node: str | None, limits: RunLimits,
                run_id: str | None = None, queue: str | None = None) -> ExecutionContext:
        """A new run, checked and stored, not started."""
        ...

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None,
                queue: str | None = None) -> ExecutionContext:
        """A new run holding a checkpoint's state, not started."""
        ...

    def start(self, context: ExecutionContext, inputs: dict[str, Any] | None = None) -> StoredRun:
        """Start a run built by ``new_run`` or ``restore`` (``inputs``: what it was given, to show)."""
        ...

    def attach(self, run_id: str) -> StoredRun:
        """An existing run, by id (``ConfigurationError`` if there is none)."""
        ...

    def stored(self, context: ExecutionContext) -> StoredRun:
        """A run built by ``new_run``, started or not."""
        ...

    def discard(self, context: ExecutionContext, reason: str) -> bool:
        """A run built by ``new_run`` will never start: it reads "discarded" (False if it had started)."""
        ...


def runs_for(app: Celery) -> Runs:
    """The app's runs: in Redis, run by its workers - or, in eager mode, in this process."""
    return EagerRuns(app) if eager(app) else CeleryRuns(Runtime.for_app(app))


class WorkflowRun(RunHandle):
    """The handle on a run submitted through a Celery app: status, wait, result(s), channel,
    progress, cancel, checkpoint, resume, recover (``core/run_handle.py``).

    Re-attach to a run from any process with ``WorkflowRun(run_id, app=app)``. An app in eager mode
    has no runs to re-attach to - each ended inside ``submit`` and lives in the handle it
    returned - so there this raises ``ConfigurationError``, without looking for Redis."""

    def __init__(self, run_id: str, app: Celery | None = None) -> None:
        self.app = resolve_app(app)
        super().__init__(runs_for(self.app).attach(run_id))

    @classmethod
    def _started(cls, app: Celery, run: StoredRun) -> WorkflowRun:
        """The handle on a run this process has just stored or started: nothing to look up."""
        handle = cls.__new__(cls)
        handle.app = app
        RunHandle.__init__(handle, run)
        return handle


def _workflow(workflow: WorkflowContext | str) -> WorkflowContext:
    if isinstance(workflow, WorkflowContext):
        return workflow
    found = workflows().get(workflow)
    if found is None:
        raise ConfigurationError(
            f"no workflow named {workflow!r} has been defined in this process (import the module that "
            f"defines it); known: {sorted(workflows())}"
        )
    return found


def submit(
    workflow: WorkflowContext | str,
    inputs: dict[str, Any] | None = None,
    *,
    app: Celery | None = None,
    queue: str | None = None,
    start_node: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_cycles: int = DEFAULT_MAX_CYCLES,
    run_id: str | None = None,
) -> WorkflowRun:
    """Start ``workflow`` on the app's Celery workers and return at once - or, when the app is in
    eager mode (``task_always_eager``), run it here and return it finished. ``inputs`` become
    channel values (and so fill task parameters of the same name)."""
    return prepare(workflow, inputs, app=app, queue=queue, start_node=start_node, max_steps=max_steps,
                   max_cycles=max_cycles, run_id=run_id).start()


class PreparedRun:
    """A run stored and not started: its ``handle`` reads "pending" until ``start()``, and
    "discarded" after ``discard()``."""

    def __init__(self, runs: Runs, context: ExecutionContext, inputs: dict[str, Any] | None,
                 handle: WorkflowRun) -> None:
        self._runs = runs
        self._context = context
        self._inputs = inputs
        self.handle = handle

    def start(self) -> WorkflowRun:
        """Send its first step to the workers (in eager mode: run it here, to its end). A run starts
        once - ``RunAlreadyStartedError`` if it had (here, or by ``start_pending`` elsewhere) - and
        a discarded run never: ``WorkflowDiscardedError``; either way nothing changes."""
        self._runs.start(self._context, self._inputs)
        return self.handle

    def discard(self, reason: str) -> bool:
        """It will never start; False if it had started."""
        return self._runs.discard(self._context, reason)


def prepare(
    workflow: WorkflowContext | str,
    inputs: dict[str, Any] | None = None,
    *,
    app: Celery | None = None,
    queue: str | None = None,
    start_node: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_cycles: int = DEFAULT_MAX_CYCLES,
    run_id: str | None = None,
) -> PreparedRun:
    """``submit`` in two halves: store the run (checked, its id known, its inputs in its channel)
    now, start it later - ``submit_on_commit`` starts it when the transaction commits."""
    app = resolve_app(app)
    wf = _workflow(workflow)
    runs = runs_for(app)
    context = runs.new_run(wf.graph, wf.name, start_node, RunLimits(max_steps, max_cycles), run_id=run_id,
                           queue=queue)
    for key, value in (inputs or {}).items():
        context.channel.set(key, value)
    return PreparedRun(runs, context, inputs, WorkflowRun._started(app, runs.stored(context)))


def start_pending(run_id: str, *, app: Celery | None = None) -> str:
    """Start a run ``prepare`` stored, from any process of the app, by its id alone - what
    ``PreparedRun.start`` does for the process that prepared it (the Django app's outbox starts
    runs whose submitting process died). Returns the status the run had: "pending" if this call
    started it; else "missing" (unknown, or its state expired), "discarded", or that of a run
    started already (a run starts once, whoever asks) - and then nothing changed."""
    app = resolve_app(app)
    if eager(app):
        raise ConfigurationError(f"the Celery app {app.main!r} runs workflows eagerly (task_always_eager): "
                                 "its runs live in the process that prepared them, not in Redis")
    return CeleryRuns(Runtime.for_app(app)).start_pending(run_id)


def recent_runs(app: Celery | None = None, limit: int = 50) -> list[RunSummary]:
    """The app's newest runs, newest first - id, workflow, status, submitted at - from its run
    index (``graflow_run_index_size`` runs at most; a run whose state expired is left out). An app
    in eager mode stores no runs: none."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"limit must be a whole number >= 1, got {limit!r}")
    app = resolve_app(app)
    if eager(app):
        return []
    return CeleryRuns(Runtime.for_app(app)).index.recent(limit)


def resume(checkpoint: str | os.PathLike[str] | Checkpoint, *, app: Celery | None = None,
           run_id: str | None = None, queue: str | None = None) -> WorkflowRun:
    """Continue a run on the app's workers: from a checkpoint file (or ``Checkpoint``) as a new
    run - its id is ``run_id`` or a new one - or, given the id of a failed run, that run itself
    (``WorkflowRun.resume``). In eager mode, from a checkpoint, here and to its end."""
    app = resolve_app(app)
    if isinstance(checkpoint, str) and RUN_ID_PATTERN.fullmatch(checkpoint) \
            and not os.path.exists(checkpoint):
        return WorkflowRun(checkpoint, app=app).resume()
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
    runs = runs_for(app)
    return WorkflowRun._started(app, runs.start(runs.restore(loaded, run_id=run_id, queue=queue)))


def celery_run(graph: TaskGraph, start_node: str | None, *, limits: RunLimits, run_id: str | None = None,
               name: str = "workflow", app: Celery | None = None, queue: str | None = None,
               **_ignored: Any) -> ExecutionContext:
    """A new run of the app (the ``"celery"`` run factory, ``wf.execute(backend="celery")``)."""
    if _ignored.get("feedback_backend") is not None or _ignored.get("feedback_config"):
        raise ConfigurationError("on the Celery backend a run's requests for a person are kept in its "
                                 "state in Redis: feedback_backend is for in-process runs")
    if _ignored.get("serializer") is not None:
        raise ConfigurationError("on the Celery backend the serializer is set for the whole app: "
                                 "app.conf.graflow_pickle_key enables signed pickle")
    return runs_for(resolve_app(app)).new_run(graph, name, start_node, limits, run_id=run_id, queue=queue)
