"""The TaskHandler seam: how a task's body runs, once the engine has decided that it runs.

The engine resolves the task's arguments, then gives the handler named by ``@task(handler=...)``
one ``TaskCall`` - the task bound to this step's arguments - and the run's ``ExecutionContext``.
Whatever ``execute_task`` returns is the task's result; whatever it raises is the task's failure
(retried like any exception). Everything else - flow control, retries, recording the result -
stays with the engine, so a handler cannot change what a run means, only where its code runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from graflow_celery.errors import ConfigurationError, WorkflowRuntimeError

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.steps import Step
    from graflow_celery.core.task import TaskWrapper
    from graflow_celery.core.task_context import TaskContext

DEFAULT_HANDLER = "direct"


class TaskCall:
    """One execution of a task: the ``TaskWrapper`` with the arguments the engine resolved for
    this step (``args[0]`` is the ``TaskContext`` when the task has ``inject_context=True``).
    ``run()`` calls the function with them, here - what graflow's ``task.run()`` does."""

    __slots__ = ("args", "kwargs", "step", "task", "task_context")

    def __init__(self, task: TaskWrapper, args: list[Any], kwargs: dict[str, Any], step: Step,
                 task_context: TaskContext) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.step = step
        self.task_context = task_context

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def func(self) -> Callable[..., Any]:
        return self.task.func

    def run(self) -> Any:
        return self.task.func(*self.args, **self.kwargs)

    __call__ = run

    def __repr__(self) -> str:
        return f"TaskCall({self.task_id!r}, step {self.step.id}, attempt {self.step.attempt})"


class TaskHandler(ABC):
    """Subclass it to decide how task bodies run; register an instance under a name
    (``graflow_celery.register_handler("gpu", GpuHandler())``) and tag tasks with
    ``@task(handler="gpu")``. graflow's interface: ``execute_task(task, context)`` and
    ``get_name()``."""

    def get_name(self) -> str:
        """The handler's name (graflow's default: the class name)."""
        return type(self).__name__

    @abstractmethod
    def execute_task(self, task: TaskCall, context: ExecutionContext) -> Any:
        """Run ``task`` and return its result; raise to fail it. ``task.run()`` runs it here.
        graflow's handlers also call ``context.set_result(task.task_id, value)``; that works too
        (the value set wins over the one returned)."""

    def hand_off(self, task: TaskCall, context: ExecutionContext) -> bool:
        """For a handler whose task runs in another system that reports back later (``celery``
        on the Celery backend): send it and return True; the step then completes through
        ``WorkflowEngine.complete_handoff``, and no worker waits for it. An exception raised here
        is the backend's, not the task's (a Celery worker retries the message). False: run
        ``execute_task`` now."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_name()!r}>"


# --- the handlers this process knows by name (what a Celery worker looks a stored name up in) --------

_registry: dict[str, TaskHandler] = {}


def register_handler(name: str, handler: TaskHandler) -> None:
    """Run tasks tagged ``handler=name`` with ``handler``, in this process. On Celery, call it
    where workers run it too: in the app's module or a module of your tasks."""
    _registry[name] = checked(name, handler)


def registered_handler(name: str) -> TaskHandler | None:
    return _registry.get(name)


def checked(name: object, handler: object) -> TaskHandler:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a handler name must be a non-empty string, got {name!r}")
    if not isinstance(handler, TaskHandler):
        raise ConfigurationError(f"handler {name!r} must be a TaskHandler instance (subclass TaskHandler "
                                 f"and implement execute_task), got {type(handler).__name__}")
    return handler


def unknown(task_id: str, name: str) -> str:
    """Why a task whose handler this process does not know cannot run."""
    return (f"task {task_id!r} has handler={name!r}, which is not registered in this process (known: "
            f"{', '.join(sorted(_registry))}); register it with graflow_celery.register_handler({name!r}, "
            "handler) in a module every process that runs the workflow imports - on Celery, the workers' "
            "too - or with engine.register_handler(...) for one engine")


# --- graflow's context.set_result(task_id, value), inside a handler -------------------------------------

class _ResultSlot:
    __slots__ = ("is_set", "task_id", "value")

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.is_set = False
        self.value: Any = None


_current_slot: ContextVar[_ResultSlot | None] = ContextVar("graflow_handler_result", default=None)


def execute(handler: TaskHandler, call: TaskCall, context: ExecutionContext) -> Any:
    """Run ``call`` through ``handler``: the value it set with ``set_result``, else the one it
    returned."""
    slot = _ResultSlot(call.task_id)
    token = _current_slot.set(slot)
    try:
        value = handler.execute_task(call, context)
    finally:
        _current_slot.reset(token)
    return slot.value if slot.is_set else value


def set_result(task_id: str, value: Any) -> None:
    slot = _current_slot.get()
    if slot is None or slot.task_id != task_id:
        running = f"it runs task {slot.task_id!r}" if slot is not None else "no handler is running here"
        raise WorkflowRuntimeError(
            f"set_result({task_id!r}, ...) is for a TaskHandler setting the result of the task it runs "
            f"({running}); a task's result is what it returns")
    slot.value = value
    slot.is_set = True
