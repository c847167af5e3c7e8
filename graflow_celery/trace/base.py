"""``Tracer``: graflow's tracing hooks, fed by the engine's lifecycle events (``core/events.py``).

``workflow("name", tracer=ConsoleTracer())`` or ``ExecutionContext.create(..., tracer=...)``
subscribes the tracer to that run's events in this process until the run finishes, and calls
graflow's hooks: ``on_workflow_start/end``, ``on_task_start/end`` (once per attempt: a failed
attempt that will be retried ends with its error), ``on_parallel_group_start/end``. The default
hooks call the template methods (``trace_start``, ``span_start``, ``event``...), which call the
``_output_*`` methods a subclass overrides to write somewhere. Hooks run in the thread that ran the
step (a worker thread of the memory backend); one that raises is logged and changes nothing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from graflow_celery.core import events
from graflow_celery.core.composition import Executable, ParallelGroup
from graflow_celery.core.events import Middleware, RunInfo, StepInfo, StepOutcomeKind
from graflow_celery.errors import RemoteError, WorkflowCancelledError

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext

Meta = dict[str, Any] | None


class Tracer:
    def __init__(self, enable_runtime_graph: bool = True) -> None:
        """``enable_runtime_graph`` is accepted for graflow's signature: no runtime graph is kept
        (``get_runtime_graph()`` is None); ``get_execution_order()`` lists the tasks started."""
        self.enable_runtime_graph = enable_runtime_graph
        self._execution_order: list[str] = []
        self._order_lock = threading.Lock()

    def follow_run(self, context: ExecutionContext) -> None:
        """Receive ``context``'s lifecycle events from now until it finishes."""
        events.add_middleware(_RunEvents(self, context))

    # --- graflow's hooks --------------------------------------------------------------------------

    def on_workflow_start(self, workflow_name: str, context: ExecutionContext) -> None:
        self.trace_start(workflow_name, trace_id=context.trace_id,
                         metadata={"start_node": context.start_node, "max_steps": context.max_steps,
                                   "session_id": context.session_id})

    def on_workflow_end(self, workflow_name: str, context: ExecutionContext, result: Any = None) -> None:
        self.trace_end(workflow_name, output=result, metadata={"steps": context.steps})

    def on_task_queued(self, task: Executable, context: ExecutionContext) -> None:
        """Not called: a step is queued inside the store's atomic transition."""

    def on_task_start(self, task: Executable, context: ExecutionContext) -> None:
        self.span_start(task.task_id, parent_name=context.graph.owner(task.task_id),
                        metadata={"task_type": type(task).__name__})

    def on_task_end(self, task: Executable, context: ExecutionContext, result: Any = None,
                    error: BaseException | None = None) -> None:
        metadata = {"error": str(error), "error_type": type(error).__name__} if error is not None else {}
        self.span_end(task.task_id, output=result, metadata=metadata)

    def on_parallel_group_start(self, group_id: str, member_ids: list[str],
                                context: ExecutionContext) -> None:
        """When the first member of a group's run starts."""

    def on_parallel_group_end(self, group_id: str, member_ids: list[str], context: ExecutionContext,
                              results: dict[str, Any] | None = None) -> None:
        """When the group's policy has judged its members; ``results`` if it accepted them."""

    def on_dynamic_task_added(self, task_id: str, parent_task_id: str | None = None,
                              is_iteration: bool = False, metadata: dict[str, Any] | None = None) -> None:
        """Not called: tasks added at run time appear through ``on_task_start``."""

    # --- template methods -------------------------------------------------------------------------

    def trace_start(self, name: str, trace_id: str | None = None,
                    metadata: dict[str, Any] | None = None) -> None:
        self._output_trace_start(name, trace_id, metadata)

    def trace_end(self, name: str, output: Any = None, metadata: dict[str, Any] | None = None) -> None:
        self._output_trace_end(name, output, metadata)

    def span_start(self, name: str, parent_name: str | None = None,
                   metadata: dict[str, Any] | None = None) -> None:
        with self._order_lock:
            self._execution_order.append(name)
        self._output_span_start(name, parent_name, metadata)

    def span_end(self, name: str, output: Any = None, metadata: dict[str, Any] | None = None) -> None:
        self._output_span_end(name, output, metadata)

    def event(self, name: str, parent_span: str | None = None,
              metadata: dict[str, Any] | None = None) -> None:
        self._output_event(name, parent_span, metadata)

    # --- where a subclass writes ------------------------------------------------------------------

    def _output_trace_start(self, name: str, trace_id: str | None, metadata: Meta) -> None: ...

    def _output_trace_end(self, name: str, output: Any, metadata: Meta) -> None: ...

    def _output_span_start(self, name: str, parent_name: str | None, metadata: Meta) -> None: ...

    def _output_span_end(self, name: str, output: Any, metadata: Meta) -> None: ...

    def _output_event(self, name: str, parent_span: str | None, metadata: Meta) -> None: ...

    # --- reading ----------------------------------------------------------------------------------

    def get_execution_order(self) -> list[str]:
        """The tasks in the order they started (a retried task once per attempt)."""
        with self._order_lock:
            return list(self._execution_order)

    def get_runtime_graph(self) -> None:
        return None

    def flush(self) -> None:
        """Nothing is buffered."""

    def shutdown(self) -> None:
        """Nothing to close."""


class _RunEvents(Middleware):
    """One run's lifecycle events turned into a tracer's hooks; it unsubscribes when the run ends."""

    def __init__(self, tracer: Tracer, context: ExecutionContext) -> None:
        self.tracer = tracer
        self.context = context
        self._groups_started: set[str] = set()  # group steps whose first member has started
        self._lock = threading.Lock()

    def _mine(self, run: RunInfo) -> bool:
        return run.run_id == self.context.run_id

    def _value(self, raw: bytes | None) -> Any:
        return None if raw is None else self.context.serializer.loads(raw)

    def run_started(self, run: RunInfo) -> None:
        if self._mine(run):
            self.tracer.on_workflow_start(run.workflow, self.context)

    def run_finished(self, run: RunInfo, status: str, error: dict[str, Any] | None) -> None:
        if not self._mine(run):
            return
        events.remove_middleware(self)
        result = self._value(self.context.store.last_result()) if status == "completed" else None
        self.tracer.on_workflow_end(run.workflow, self.context, result)

    def step_started(self, step: StepInfo) -> None:
        if not self._mine(step.run):
            return
        graph = self.context.graph
        group_id = graph.owner(step.task_id)
        group_step = step.step.scope.rpartition("/")[0]  # "<group step>/<branch>" inside a group
        if group_id is not None and group_step:
            with self._lock:
                first = group_step not in self._groups_started
                self._groups_started.add(group_step)
            if first:
                self.tracer.on_parallel_group_start(group_id, graph.get_parallel_group_members(group_id),
                                                    self.context)
        self.tracer.on_task_start(graph.node(step.task_id), self.context)

    def step_finished(self, step: StepInfo, outcome: StepOutcomeKind, result: Any,
                      error: dict[str, Any] | None, exception: BaseException | None) -> None:
        if not self._mine(step.run) or outcome == "skipped":
            return
        node = self.context.graph.node(step.task_id)
        if isinstance(node, ParallelGroup):
            return  # a group's end is its judgement (group_judged)
        failure: BaseException | None = None
        if outcome == "cancelled":
            failure = exception or WorkflowCancelledError((error or {}).get("message", ""), step.task_id)
        elif outcome == "failed":
            record = error or {}
            failure = exception or RemoteError(record.get("type", "Error"), record.get("message", ""))
        value = self._value(result) if outcome == "completed" else None
        self.tracer.on_task_end(node, self.context, value, failure)

    def step_retrying(self, step: StepInfo, delay: float, exception: BaseException) -> None:
        if self._mine(step.run):
            self.tracer.on_task_end(self.context.graph.node(step.task_id), self.context, None, exception)

    def group_judged(self, step: StepInfo, group_id: str, success: bool,
                     error: dict[str, Any] | None) -> None:
        if not self._mine(step.run):
            return
        results = self.context.get_result(group_id) if success else None
        self.tracer.on_parallel_group_end(group_id, self.context.graph.get_parallel_group_members(group_id),
                                          self.context, results)
