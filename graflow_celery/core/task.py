"""Tasks: ``@task`` turns a function into a ``TaskWrapper`` that can be composed and run."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, overload

from graflow_celery.core.composition import Executable
from graflow_celery.core.retry import RetryPolicy
from graflow_celery.core.task_options import TaskOptions
from graflow_celery.errors import BoundArgumentError, GraphDefinitionError, SerializationError
from graflow_celery.serialization import Serializer
from graflow_celery.serialization.registry import register_annotated


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
        **options: Any,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise GraphDefinitionError(f"a task id must be a non-empty string, got {id!r}")
        if not callable(func):
            raise GraphDefinitionError(f"task {id!r}: func must be callable, got {type(func).__name__}")
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
        self.func = func
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
        if register:
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
            "retry_policy": self.retry_policy,
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
        """``t(task_id="x", **bound)`` makes a task instance; any other call runs the function."""
        if "task_id" in kwargs:
            if args:
                raise TypeError("task instances take keyword arguments only: t(task_id='x', key=value)")
            return self.with_id(kwargs.pop("task_id"), **kwargs)
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"TaskWrapper({self._id!r})"


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
