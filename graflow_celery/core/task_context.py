"""What a task sees when it runs with ``inject_context=True``.

Control requests (``next_task``, ``next_iteration``, ``terminate_workflow``, ``cancel_workflow``)
are only recorded here; after the task returns, the engine turns them into one outcome, in the
priority cancel > terminate > goto > normal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from graflow_celery.channels.typed import TypedChannel
from graflow_celery.core.asking import AsksForFeedback
from graflow_celery.core.composition import Executable
from graflow_celery.core.steps import CheckpointRequest
from graflow_celery.errors import CycleLimitExceededError, WorkflowCancelledError

if TYPE_CHECKING:
    from graflow_celery.channels.base import Channel
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.graph import TaskGraph
    from graflow_celery.core.steps import Step

T = TypeVar("T")

@dataclass
class ControlRequests:
    next_tasks: list[tuple[Executable, bool]] = field(default_factory=list)  # (task, goto)
    iterate: bool = False
    iteration: Any = None  # the data for the next iteration; None: it is called without any
    terminate: str | None = None
    cancel: str | None = None
    checkpoint: CheckpointRequest | None = None


class TaskContext(AsksForFeedback):
    """The running task's handle on its workflow (graflow's ``TaskExecutionContext``); waiting for
    a person (``request_feedback`` and its shortcuts) is in ``core/asking.py``."""

    def __init__(self, context: ExecutionContext, step: Step, max_cycles: int, max_retries: int) -> None:
        self.execution_context = context
        self.step = step
        self.task_id = step.node
        self.max_cycles = max_cycles
        self.max_retries = max_retries
        self.requests = ControlRequests()
        self.start_time = time.time()
        self.local_data: dict[str, Any] = {}  # this execution's scratch space (graflow's)

    @property
    def run_id(self) -> str:
        return self.execution_context.run_id

    session_id = run_id

    @property
    def cycle_count(self) -> int:
        """Which run of this loop this is: 1 on the first run, then 2, 3... after each
        ``next_iteration`` (graflow's count)."""
        return self.step.cycle + 1

    @property
    def retry_count(self) -> int:
        return self.step.attempt

    def can_iterate(self) -> bool:
        """Whether ``next_iteration`` may run this task again: ``max_cycles`` runs in all."""
        return self.cycle_count < self.max_cycles

    # --- flow control -----------------------------------------------------------------------------

    def next_task(self, executable: Executable, goto: bool = False) -> str:
        """Queue ``executable``. A task whose id is already in the run's graph is a jump (goto):
        this task's successors are skipped. A new task runs in addition to the successors, unless
        ``goto=True``."""
        if not isinstance(executable, Executable):
            raise TypeError(f"next_task() takes a task or group, got {type(executable).__name__}")
        self.requests.next_tasks.append((executable, goto))
        return executable.task_id

    def next_iteration(self, data: Any = None) -> str:
        """Run this task again - with ``data`` as its first argument after the context, or with no
        extra argument when ``data`` is None; its successors wait for the last iteration. Raises
        ``CycleLimitExceededError`` once the task has run ``max_cycles`` times."""
        if not self.can_iterate():
            raise CycleLimitExceededError(self.task_id, self.cycle_count, self.max_cycles)
        self.requests.iterate = True
        self.requests.iteration = data
        return self.task_id

    def terminate_workflow(self, message: str = "") -> None:
        """End the whole run normally once this task returns; nothing more is queued."""
        self.requests.terminate = message

    def checkpoint(self, metadata: dict[str, Any] | None = None, *, path: str | None = None,
                   deferred: bool = True) -> tuple[str, Any] | None:
        """Checkpoint the run. Deferred (the default): taken after this task completes and before
        its successors run; returns None. Immediate: taken now, so a resumed run runs this task
        again; returns ``(path, CheckpointMetadata)``."""
        enriched = {"task_id": self.task_id, "cycle_count": self.cycle_count,
                    "mode": "deferred" if deferred else "immediate", **(metadata or {})}
        if deferred:
            self.requests.checkpoint = CheckpointRequest(path, enriched)
            return None
        return self.execution_context.checkpoint(path, enriched)

    def should_stop(self) -> bool:
        """A shutdown is under way (SIGINT/SIGTERM in process, a warm shutdown of the Celery
        worker): a long task should return or raise soon. If it raises now, its step runs again
        when the run goes on, without spending a retry."""
        return self.execution_context.dispatcher.stopping()

    def cancel_workflow(self, message: str = "") -> None:
        """End the whole run as CANCELLED now; this task does not complete."""
        self.requests.cancel = message
        raise WorkflowCancelledError(message, self.task_id)

    # --- data -------------------------------------------------------------------------------------

    def get_channel(self) -> Channel:
        return self.execution_context.get_channel()

    def get_typed_channel(self, message_type: type[T]) -> TypedChannel[T]:
        return TypedChannel(self.get_channel(), message_type)

    def get_result(self, task_id: str, default: Any = None) -> Any:
        return self.execution_context.get_result(task_id, default)

    # --- graflow's other names ----------------------------------------------------------------------

    @property
    def trace_id(self) -> str:
        return self.execution_context.run_id

    @property
    def graph(self) -> TaskGraph:
        """The run's graph (nodes added at run time included)."""
        return self.execution_context.graph

    def elapsed_time(self) -> float:
        """Seconds since this execution of the task started."""
        return time.time() - self.start_time

    def set_local_data(self, key: str, value: Any) -> None:
        self.local_data[key] = value

    def get_local_data(self, key: str, default: Any = None) -> Any:
        return self.local_data.get(key, default)

    def __repr__(self) -> str:
        return f"TaskContext(task_id={self.task_id!r}, run_id={self.run_id!r}, cycle={self.cycle_count})"


TaskExecutionContext = TaskContext  # the name graflow users know
