"""Every error graflow-celery raises, under one root: ``GraflowError``.

Errors that wrap a failure of user code keep the original exception as ``__cause__``
(``raise ... from ...``) and carry the fields a caller needs to react without parsing text.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence


class GraflowError(Exception):
    """Root of every graflow-celery error. ``cause`` (graflow's keyword and attribute) is the
    exception's ``__cause__``."""

    def __init__(self, *args: object, cause: BaseException | None = None) -> None:
        super().__init__(*args)
        if cause is not None:
            self.__cause__ = cause

    @property
    def cause(self) -> BaseException | None:
        return self.__cause__


# --- definition errors: raised before anything runs -------------------------------------------


class GraphDefinitionError(GraflowError):
    """The workflow as written cannot run (bad ids, start node, groups, policies)."""


class DuplicateTaskError(GraphDefinitionError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"duplicate task id {task_id!r}: two different tasks use this id in one workflow")
        self.task_id = task_id


class UnknownTaskError(GraphDefinitionError, KeyError):
    """No task with this id in the graph. Also a ``KeyError``, which graflow's
    ``TaskGraph.get_node`` raises."""

    def __init__(self, task_id: str, known: Sequence[str]) -> None:
        super().__init__(f"no task {task_id!r} in the workflow (tasks: {sorted(known)})")
        self.task_id = task_id

    __str__ = Exception.__str__  # the message, not KeyError's quoted repr


class ConfigurationError(GraflowError):
    """An option or setting has a value that cannot work."""


class InvalidRunIdError(ConfigurationError):
    """A run id outside the safe alphabet (``backends/celery/keys.py``: ``RUN_ID_RULE``)."""

    def __init__(self, run_id: object, rule: str) -> None:
        super().__init__(f"invalid run id {run_id!r}: a run id must be {rule}")
        self.run_id = run_id


class RunAlreadyStartedError(ConfigurationError):
    """A run asked to start that has started already (or was stored with a ``status`` past
    "pending"): a run starts once, and nothing changed."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} cannot start: it is {status} already (a run starts once)")
        self.run_id = run_id
        self.status = status


class InvalidRetryPolicyError(ConfigurationError, ValueError):
    """A ``RetryPolicy`` field with a value that cannot work. Also a ``ValueError``, which
    ``RetryPolicy`` raised before, so code that caught that keeps working."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        super().__init__(f"RetryPolicy {field} must be {rule}, got {value!r}")
        self.field = field
        self.value = value


class SerializationError(GraflowError):
    """A value could not be encoded for storage, or stored bytes could not be decoded."""


class BoundArgumentError(SerializationError, GraphDefinitionError):
    """A task's bound argument cannot pass the run's serializer: the task cannot be stored."""

    def __init__(self, task_id: str, key: str, reason: str) -> None:
        super().__init__(f"task {task_id!r}: bound argument {key!r} cannot be serialized: {reason}")
        self.task_id = task_id
        self.key = key


class NotImportableError(GraphDefinitionError):
    """Tasks that workers could not import by path (closures, lambdas, ``__main__`` code)."""

    def __init__(self, task_ids: Sequence[str], reasons: Sequence[str]) -> None:
        lines = "\n".join(f"  - {tid}: {why}" for tid, why in zip(task_ids, reasons, strict=True))
        super().__init__(
            "these tasks cannot be imported by a worker; define them at module level in an importable "
            f"module, or opt in to signed pickle:\n{lines}"
        )
        self.task_ids = list(task_ids)


# --- run-time errors ----------------------------------------------------------------------------


class WorkflowRuntimeError(GraflowError):
    """A run did not complete normally."""


def _task_failed(task_id: str, error_type: str, message: str) -> str:
    return f"task {task_id!r} failed: {error_type}: {message}"


class TaskError(WorkflowRuntimeError):
    """A task raised; ``__cause__`` is the original exception (or a ``RemoteError`` stand-in)."""

    def __init__(self, task_id: str, error_type: str, message: str) -> None:
        super().__init__(_task_failed(task_id, error_type, message))
        self.task_id = task_id
        self.error_type = error_type
        self.error_message = message


class RetryLimitExceededError(TaskError):
    """A task failed on its last attempt after ``retry_count`` retries (graflow's name). Still a
    ``TaskError``: ``error_type``, ``error_message`` and ``__cause__`` describe the last failure."""

    def __init__(self, task_id: str, retry_count: int, max_retries: int,
                 last_error: BaseException | None = None, *, error_type: str | None = None,
                 error_message: str | None = None) -> None:
        """``error_type``/``error_message``: the failure as recorded, when ``last_error`` is only
        a stand-in for an exception raised in another process."""
        error_type = error_type or (type(last_error).__name__ if last_error is not None else "Exception")
        message = error_message if error_message is not None else str(last_error or "")
        WorkflowRuntimeError.__init__(
            self, f"task {task_id!r} failed after {retry_count} of {max_retries} retries: "
                  f"{error_type}: {message}")
        self.task_id = task_id
        self.error_type = error_type
        self.error_message = message
        self.retry_count = retry_count
        self.max_retries = max_retries
        self.last_error = last_error


class StepFailed(TaskError):
    """What the step task raises to Celery when its task raised: the task's error type and
    message as recorded (passwords masked), in place of the task's own exception, whose text Celery
    would log, store and send to Flower as it is. Celery shows an exception by its ``repr``, which
    reads like the task's own: ``ValueError('cannot reach redis://:**@host')``. ``args`` are the
    constructor's, so it pickles and a JSON result backend rebuilds it."""

    def __init__(self, task_id: str, error_type: str, message: str) -> None:
        WorkflowRuntimeError.__init__(self, task_id, error_type, message)
        self.task_id = task_id
        self.error_type = error_type
        self.error_message = message

    def __str__(self) -> str:
        return _task_failed(self.task_id, self.error_type, self.error_message)

    def __repr__(self) -> str:
        return f"{self.error_type}({self.error_message!r})"


class RemoteError(Exception):
    """Stand-in for an exception raised in another process, rebuilt from its type name and text."""

    def __init__(self, error_type: str, message: str, traceback_text: str = "") -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.traceback_text = traceback_text


class TaskProcessCrashed(RuntimeError):
    """The process a task ran in (``handler="process"``) ended before it returned: killed by a
    signal, ``os._exit``, a crash in a C extension. Like any exception of the task, and unlike a
    ``GraflowError``, it is retried; after the last attempt the run fails with ``TaskError``."""

    def __init__(self, task_id: str, pid: int, returncode: int | None) -> None:
        super().__init__(f"the process of task {task_id!r} (pid {pid}) {exit_reason(returncode)} before "
                         "it returned")
        self.task_id = task_id
        self.pid = pid
        self.returncode = returncode


def exit_reason(returncode: int | None) -> str:
    """``was killed by SIGKILL`` or ``exited with code 3``, from a ``Popen.returncode`` (None:
    unknown)."""
    if returncode is None:
        return "ended (how is unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


class CycleLimitExceededError(WorkflowRuntimeError):
    """``next_iteration()`` in a task that has run ``max_cycles`` times (``cycle_count``: the runs
    so far, counting the current one)."""

    def __init__(self, task_id: str, cycle_count: int, max_cycles: int) -> None:
        super().__init__(
            f"task {task_id!r} called next_iteration() on run {cycle_count}, but max_cycles is "
            f"{max_cycles}: raise max_cycles, or check ctx.can_iterate() first"
        )
        self.task_id = task_id
        self.cycle_count = cycle_count
        self.max_cycles = max_cycles


class MaxStepsExceededError(WorkflowRuntimeError):
    def __init__(self, max_steps: int, task_id: str) -> None:
        super().__init__(
            f"workflow reached max_steps={max_steps} (task {task_id!r} would be step {max_steps + 1}); "
            "raise max_steps if the workflow really needs more steps"
        )
        self.max_steps = max_steps
        self.task_id = task_id


class ParallelGroupError(WorkflowRuntimeError):
    """A parallel group's policy judged its members' outcomes a failure.

    Two ways to raise it: ours, ``ParallelGroupError(group_id, policy, failed_tasks,
    successful_tasks, reason)``, and graflow's, ``ParallelGroupError(message, group_id=...,
    failed_tasks=..., successful_tasks=...)`` - ``group_id`` given by keyword, the message becomes
    the reason, and the engine fills in the policy's name."""

    def __init__(
        self,
        group_id_or_message: str = "",
        policy: str = "",
        failed_tasks: Sequence[tuple[str, str | None]] = (),
        successful_tasks: Sequence[str] = (),
        reason: str = "",
        *,
        group_id: str | None = None,
    ) -> None:
        if group_id is None:
            group_id = group_id_or_message
        else:
            reason = reason or group_id_or_message
        failed = ", ".join(f"{tid} ({msg})" for tid, msg in failed_tasks) or "none"
        why = f": {reason}" if reason else ""
        super().__init__(
            f"parallel group {group_id!r} failed under policy {policy!r}{why}; "
            f"failed: {failed}; succeeded: {', '.join(successful_tasks) or 'none'}"
        )
        self.group_id = group_id
        self.policy = policy
        self.failed_tasks = list(failed_tasks)
        self.successful_tasks = list(successful_tasks)
        self.reason = reason


class WorkflowCancelledError(WorkflowRuntimeError):
    """The run was cancelled by ``cancel_workflow()`` in a task or by ``run.cancel()``."""

    def __init__(self, message: str, task_id: str | None = None) -> None:
        where = f" by task {task_id!r}" if task_id else ""
        super().__init__(f"workflow cancelled{where}: {message}")
        self.message = message
        self.task_id = task_id


class WorkflowDiscardedError(WorkflowCancelledError):
    """The run never started: it was submitted on commit and the transaction rolled back."""

    def __init__(self, message: str) -> None:
        WorkflowRuntimeError.__init__(self, f"workflow discarded: {message}")
        self.message = message
        self.task_id = None


class WorkflowInterruptedError(WorkflowRuntimeError):
    """A shutdown signal stopped an in-process run; ``checkpoint_path`` resumes it."""

    def __init__(self, run_id: str, reason: str, checkpoint_path: str) -> None:
        super().__init__(f"run {run_id} was stopped by {reason}; resume it from {checkpoint_path}")
        self.run_id = run_id
        self.reason = reason
        self.checkpoint_path = checkpoint_path


class CheckpointError(GraflowError):
    """A checkpoint cannot be read, or cannot be restored here (damaged, another version, a module
    or key this process lacks). Nothing was written."""


class WorkflowTimeoutError(WorkflowRuntimeError, TimeoutError):
    """``wait(timeout)`` ran out before the run finished (the run itself goes on)."""


# --- graflow's names for the same errors (``graflow.exceptions``): one class, two names ---------

GraflowRuntimeError = WorkflowRuntimeError
GraphCompilationError = GraphDefinitionError
ConfigError = ConfigurationError
GraflowWorkflowCanceledError = WorkflowCancelledError


def as_runtime_error(exc: BaseException) -> WorkflowRuntimeError:
    """``exc`` itself if it is a run-time error already, else a ``WorkflowRuntimeError`` caused by
    it (graflow's helper)."""
    if isinstance(exc, WorkflowRuntimeError):
        return exc
    wrapped = WorkflowRuntimeError(f"an error occurred: {exc}")
    wrapped.__cause__ = exc
    return wrapped
# --- waiting for a person (``ctx.request_feedback``) ---------------------------------------------


class FeedbackTimeoutError(WorkflowRuntimeError, TimeoutError):
    """graflow's name: a request for feedback got no answer before its deadline. Raised in the task,
    which may catch it and go on with a default; not retried (a rerun would time out again)."""

    def __init__(self, feedback_id: str, timeout: float | None) -> None:
        super().__init__(f"feedback request {feedback_id} got no answer within {timeout} seconds")
        self.feedback_id = feedback_id
        self.timeout = timeout

    def __reduce__(self) -> tuple[type[FeedbackTimeoutError], tuple[str, float | None]]:
        return (type(self), (self.feedback_id, self.timeout))


class FeedbackNotWaitingError(GraflowError):
    """An answer for a request that is not waiting for one; nothing was changed. ``reason``:
    "unknown" (no such request), "other_run" (the id names another run), "answered", "timed_out"
    (its deadline passed) or "ended" (its run is over)."""

    def __init__(self, feedback_id: str, reason: str, detail: str) -> None:
        super().__init__(f"feedback request {feedback_id} is not waiting for an answer: {detail}")
        self.feedback_id = feedback_id
        self.reason = reason


class InvalidFeedbackError(GraflowError, ValueError):
    """An answer that does not fit its request's type or options; nothing was changed."""

    def __init__(self, feedback_id: str, feedback_type: str, problem: str) -> None:
        super().__init__(f"invalid answer for {feedback_type} request {feedback_id}: {problem}")
        self.feedback_id = feedback_id
        self.feedback_type = feedback_type
        self.problem = problem


class WorkflowParkedError(WorkflowRuntimeError):
    """``wf.execute(park_on_feedback=True)``: the run stopped where it waits for a person; its
    checkpoint (``checkpoint_path``) holds the requests (``pending``). Answer them in the checkpoint
    (``Checkpoint.respond``) and resume it."""

    def __init__(self, run_id: str, checkpoint_path: str, pending: Sequence[object]) -> None:
        ids = ", ".join(str(getattr(r, "feedback_id", r)) for r in pending) or "none"
        super().__init__(f"run {run_id} is waiting for feedback ({ids}); its checkpoint is "
                         f"{checkpoint_path}")
        self.run_id = run_id
        self.checkpoint_path = checkpoint_path
        self.pending = list(pending)
