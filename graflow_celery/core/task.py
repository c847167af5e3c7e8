"""Tasks: ``@task`` turns a function into a ``TaskWrapper`` that can be composed and run."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from graflow_celery.core.composition import Chain as Chain
from graflow_celery.core.composition import Executable
from graflow_celery.core.composition import ParallelGroup as ParallelGroup
from graflow_celery.core.composition import chain as chain
from graflow_celery.core.composition import parallel as parallel
from graflow_celery.core.retry import RetryPolicy
from graflow_celery.core.task_options import TaskOptions
from graflow_celery.errors import BoundArgumentError, GraphDefinitionError, SerializationError
from graflow_celery.serialization import Serializer
from graflow_celery.serialization.registry import register_annotated

if TYPE_CHECKING:
    from graflow_celery.core.task_context import TaskContext


class TaskWrapper(Executable):
    """A function plus its workflow options. Create one with ``@task`` or, at run time, directly:
    ``TaskWrapper("fetch_3", fetch, bound_kwargs={"page": 3})``.
    """

    def __init__(
        self,
        id: str,
        func: Callable[..., Any],
        *,
        inject_context: bool = False,
        resolve_keyword_args: bool = True,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        max_cycles: int | None = None,
        bound_kwargs: dict[str, Any] | None = None,
        register: bool = True,
        task_options: TaskOptions | None = None,
        register_to_context: bool | None = None,  # graflow's name for ``register``
        **options: Any,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise GraphDefinitionError(f"a task id must be a non-empty string, got {id!r}")
        if not callable(func):
            raise GraphDefinitionError(f"task {id!r}: func must be callable, got {type(func).__name__}")
        if isinstance(func, TaskWrapper):  # TaskWrapper("fetch_3", fetch) with fetch a @task: its function
            func = func.func
        # Retries given here win over a run's default_max_retries (ExecutionContext.create).
        self.own_retries = max_retries is not None or retry_policy is not None
        if retry_policy is None:
            retry_policy = RetryPolicy(max_retries=max_retries or 0, initial_interval=0.0)
        elif max_retries is not None and max_retries != retry_policy.max_retries:
            raise GraphDefinitionError(
                f"task {id!r}: max_retries={max_retries} disagrees with retry_policy.max_retries="
                f"{retry_policy.max_retries}; give one of them"
            )
        if max_cycles is not None and max_cycles < 0:
            raise GraphDefinitionError(f"task {id!r}: max_cycles must be >= 0, got {max_cycles}")
        self._id = id
        self.func: Callable[..., Any] = func
        self.inject_context = inject_context
        self.resolve_keyword_args = resolve_keyword_args
        self.retry_policy = retry_policy
        self.max_cycles = max_cycles
        # queue, priority, time limits...: how its steps are sent (core/task_options.py)
        self.task_options = task_options or TaskOptions.of(id, options)
        self.bound_kwargs = dict(bound_kwargs or {})
        self.__doc__ = getattr(func, "__doc__", None)
        # Pydantic models in the signature can be decoded in this process (a worker makes its
        # TaskWrappers when it loads the module or rebuilds a run's graph).
        register_annotated(func)
        if register if register_to_context is None else register_to_context:
            self._register()

    @property
    def task_id(self) -> str:
        return self._id

    @property
    def handler_type(self) -> str:
        """The name of the ``TaskHandler`` that runs the body (``@task(handler=...)``; graflow's
        attribute)."""
        return self.task_options.handler or "direct"

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.func)

    @property
    def queue(self) -> str | None:
        return self.task_options.queue

    def options(self) -> dict[str, Any]:
        """What a copy of this task under another id keeps."""
        return {
            "inject_context": self.inject_context,
            "resolve_keyword_args": self.resolve_keyword_args,
            "retry_policy": self.retry_policy if self.own_retries else None,  # None: the run's default
            "max_cycles": self.max_cycles,
            "task_options": self.task_options,
        }

    def dump_bound(self, serializer: Serializer) -> bytes:
        """The bound arguments as the run's serializer writes them. ``BoundArgumentError`` names
        the first one it cannot carry."""
        try:
            return serializer.dumps(self.bound_kwargs)
        except SerializationError:
            for key, value in self.bound_kwargs.items():
                try:
                    serializer.dumps(value)
                except SerializationError as exc:
                    raise BoundArgumentError(self._id, key, str(exc)) from exc
            raise

    def with_id(self, task_id: str, **bound_kwargs: Any) -> TaskWrapper:
        """A new task running the same function under another id, with some arguments fixed."""
        return TaskWrapper(task_id, self.func, bound_kwargs={**self.bound_kwargs, **bound_kwargs},
                           **self.options())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """As graflow: keyword arguments alone make a task instance with them bound -
        ``t(task_id="x", key=value)``, or ``t(key=value)`` with an id of its own (the function's
        name and 8 random hex digits); ``t()`` runs the task here (``run``). With positional
        arguments it runs too (``run(*args, **kwargs)``), where graflow refuses."""
        if "task_id" in kwargs:
            if args:
                raise TypeError("task instances take keyword arguments only: t(task_id='x', key=value)")
            return self.with_id(kwargs.pop("task_id"), **kwargs)
        if kwargs and not args:
            return self.with_id(f"{getattr(self.func, '__name__', 'task')}_{uuid.uuid4().hex[:8]}", **kwargs)
        return self.run(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task once, here and now, and return what it returns (graflow's ``run``): its
        bound arguments, then ``kwargs``; with ``inject_context=True`` a ``TaskContext`` first -
        of a run of its own in this process, so what the task asks for there (``next_task``,
        ``next_iteration``...) is not acted on. Nothing is recorded in any workflow."""
        call_kwargs = {**self.bound_kwargs, **kwargs}
        if self.inject_context:
            return self.func(_scratch_context(self), *args, **call_kwargs)
        return self.func(*args, **call_kwargs)

    def __repr__(self) -> str:
        return f"TaskWrapper({self._id!r})"


def _scratch_context(task: TaskWrapper) -> TaskContext:
    from graflow_celery.core.context import ExecutionContext  # the context module needs this one
    from graflow_celery.core.graph import TaskGraph
    from graflow_celery.core.steps import Step
    from graflow_celery.core.task_context import TaskContext

    """A task context for ``task.run()``: the first step of a one-task run in this process."""
    graph = TaskGraph()
    graph.add_node(task)
    context = ExecutionContext.create(graph, task.task_id)
    max_cycles = task.max_cycles if task.max_cycles is not None else context.default_max_cycles
    return TaskContext(context, Step("1", task.task_id), max_cycles=max_cycles, max_retries=task.max_retries)


@overload
def task(id_or_func: Callable[..., Any]) -> TaskWrapper: ...


@overload
def task(
    id_or_func: str | None = None,
    *,
    id: str | None = None,
    inject_context: bool = False,
    resolve_keyword_args: bool = True,
    max_retries: int | None = None,
    retry_policy: RetryPolicy | None = None,
    max_cycles: int | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], TaskWrapper]: ...


def task(
    id_or_func: Callable[..., Any] | str | None = None,
    *,
    id: str | None = None,
    inject_context: bool = False,
    resolve_keyword_args: bool = True,
    max_retries: int | None = None,
    retry_policy: RetryPolicy | None = None,
    max_cycles: int | None = None,
    **options: Any,
) -> TaskWrapper | Callable[[Callable[..., Any]], TaskWrapper]:
    """``@task``, ``@task("id")`` or ``@task(id=..., inject_context=True, max_retries=3, ...)``.
    Message options - ``queue``, ``priority``, ``time_limit``, ``soft_time_limit``, ``expires``,
    ``countdown`` - and ``handler`` (the ``TaskHandler`` that runs the body) are described in
    ``core/task_options.py``."""

    def decorate(func: Callable[..., Any]) -> TaskWrapper:
        task_id = id or (id_or_func if isinstance(id_or_func, str) else None) or func.__name__
        wrapper = TaskWrapper(
            task_id,
            func,
            inject_context=inject_context,
            resolve_keyword_args=resolve_keyword_args,
            max_retries=max_retries,
            retry_policy=retry_policy,
            max_cycles=max_cycles,
            **options,
        )
        wrapper.__module__ = func.__module__
        wrapper.__name__ = func.__name__  # type: ignore[attr-defined]
        wrapper.__qualname__ = func.__qualname__  # type: ignore[attr-defined]
        return wrapper

    if callable(id_or_func):
        return decorate(id_or_func)
    return decorate


SequentialTask = Chain  # graflow's name for a chain


# --- graflow's root task --------------------------------------------------------------------------


def _nothing() -> None:
    """A root task's body (module level, so a Celery worker can import it)."""


class Task(TaskWrapper):
    """graflow's ``Task``: a named task that does nothing - a start node to hang a workflow on."""

    def __init__(self, task_id: str, register_to_context: bool = True) -> None:
        super().__init__(task_id, _nothing, register=register_to_context)

    def run(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"Task({self.task_id!r})"
