"""``with workflow("name") as wf:`` - define a workflow, then ``wf.execute()`` it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

from graflow_celery.core import pictures
from graflow_celery.core.composition import Executable
from graflow_celery.core.context import DEFAULT_MAX_CYCLES, DEFAULT_MAX_STEPS, ExecutionContext, RunLimits
from graflow_celery.core.context_compat import Tracer
from graflow_celery.core.current import current_graph, set_implicit_workflow
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.feedback_store import park_requests
from graflow_celery.core.graph import TaskGraph
from graflow_celery.errors import ConfigurationError, GraphDefinitionError, WorkflowRuntimeError
from graflow_celery.serialization import Serializer


class Backend(Protocol):
    """Where runs execute: ``MemoryBackend(...)`` in this process."""

    def new_run(self, graph: TaskGraph, start_node: str | None = None, *, limits: RunLimits | None = None,
                name: str = "workflow") -> ExecutionContext: ...


# Workflows by name, so that a process can submit one it has imported by its name.
registry: dict[str, WorkflowContext] = {}


class WorkflowContext:
    def __init__(self, name: str, tracer: Tracer | None = None) -> None:
        self.name = name
        self.graph = TaskGraph()
        self.tracer = tracer  # graflow_celery.trace: sees this workflow's in-process runs
        self._tokens: list[tuple[Token[TaskGraph | None], Token[WorkflowContext | None]]] = []
        self.module, self.file = _defined_where()
        _register(self)

    def __enter__(self) -> WorkflowContext:
        self._tokens.append((current_graph.set(self.graph), _active.set(self)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        graph_token, active_token = self._tokens.pop()
        current_graph.reset(graph_token)
        _active.reset(active_token)

    def add(self, *executables: Executable) -> WorkflowContext:
        """Add tasks or groups that no edge mentions (a one-task workflow, a goto target)."""
        for executable in executables:
            for node in executable.nodes():
                self.graph.add_node(node)
        return self

    # graflow's low-level forms (note the order: name first)
    def add_node(self, name: str, task: Executable, skip_if_exists: bool = False) -> None:
        self.graph.add_node(task, name, skip_if_exists=skip_if_exists)

    def add_edge(self, from_node: str, to_node: str) -> None:
        self.graph.add_edge(from_node, to_node)

    def rename_node(self, old_task_id: str, new_task_id: str) -> None:
        self.graph.rename_node(old_task_id, new_task_id)

    def clear(self) -> None:
        """Forget every task of this workflow."""
        self.graph.clear()

    def execute(
        self,
        start_node: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        ret_context: bool = False,
        initial_channel: dict[str, Any] | None = None,
        *,
        max_cycles: int = DEFAULT_MAX_CYCLES,
        max_workers: int = 4,
        backend: str | Backend = "memory",
        serializer: Serializer | None = None,
        portable: bool = False,
        park_on_feedback: bool = False,
    ) -> Any:
        """Run the workflow and return the last task's result (``(result, context)`` with
        ``ret_context=True``; the context offers ``get_result(task_id)`` and ``get_channel()``).
        ``backend``: "memory", "celery", or a backend object such as
        ``MemoryBackend(max_workers=8, shutdown_timeout=10)``.

        In process, values are the Python objects themselves. ``portable=True`` writes every
        value with ``serializer`` (tagged JSON by default, as a Celery app) and reads it back, so
        each task sees what it would on a worker and a value that could not travel fails, naming
        its task and type. Celery runs are always portable.

        ``park_on_feedback``: a task that waits for a person parks instead of blocking; once
        nothing else can run, the run's checkpoint is written and ``WorkflowParkedError`` raised
        (on Celery steps always park)."""
        if isinstance(backend, str):
            context = ExecutionContext.create(
                self.graph, start_node, channel_backend=backend, name=self.name, max_steps=max_steps,
                max_cycles=max_cycles, max_workers=max_workers, serializer=serializer, tracer=self.tracer,
                portable=portable,
            )
        else:
            if portable and getattr(backend, "portable", True) is False:
                raise ConfigurationError(f"portable=True with {type(backend).__name__}(portable=False): "
                                         "give the backend portable=True")
            self.graph.resolve_start(start_node)  # the same checks, before anything runs
            context = backend.new_run(self.graph, start_node, limits=RunLimits(max_steps, max_cycles),
                                      name=self.name)
            if self.tracer is not None:
                self.tracer.follow_run(context)
        for key, value in (initial_channel or {}).items():
            context.channel.set(key, value)
        if park_on_feedback:
            park_requests(context)
        result = WorkflowEngine().execute(context)
        return (result, context) if ret_context else result

    # --- pictures -----------------------------------------------------------------------------------

    def to_mermaid(self, direction: str = "TD") -> str:
        """A Mermaid flowchart (groups as subgraphs), e.g. for a README or a run page."""
        return pictures.to_mermaid(self.graph, direction)

    def to_dot(self) -> str:
        """Graphviz DOT (groups as clusters): ``dot -Tsvg``."""
        return pictures.to_dot(self.graph, self.name)

    def draw_ascii(self) -> str:
        """The workflow as plain text, from its start nodes."""
        return pictures.draw_ascii(self.graph, self.name)

    def show_info(self) -> None:
        """Print the workflow: its tasks, edges, picture and any loops written with edges."""
        print(pictures.info(self.graph, self.name))

    def visualize_dependencies(self) -> None:
        """Print each task with the tasks that follow it (``a >> b >> c``)."""
        print(pictures.dependencies(self.graph, self.name))

    def __repr__(self) -> str:
        return f"workflow({self.name!r}, tasks={sorted(self.graph.nodes)})"


def _defined_where() -> tuple[str, str]:
    """The module and file of the code that called ``workflow(...)``."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("graflow_celery.core"):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "?"), frame.f_code.co_filename


def _register(wf: WorkflowContext) -> None:
    """A name names one workflow: defining it again from the same file (a re-import, a factory
    function called twice, a notebook cell run again) replaces it; from another file is an error,
    since ``submit("name")`` on a worker could otherwise run the wrong one."""
    known = registry.get(wf.name)
    if known is not None and known.file != wf.file and not _interactive(wf.file):
        raise GraphDefinitionError(
            f"two different workflows are named {wf.name!r}: one in module {known.module} ({known.file}), "
            f"one in module {wf.module} ({wf.file}); give one of them another name")
    registry[wf.name] = wf


def _interactive(filename: str) -> bool:
    return filename.startswith("<")  # a REPL, a notebook cell, exec()


def workflow(name: str, tracer: Tracer | None = None) -> WorkflowContext:
    """``with workflow("name") as wf:``; ``tracer`` (``graflow_celery.trace.ConsoleTracer()``...)
    follows every in-process run of it."""
    return WorkflowContext(name, tracer=tracer)


def workflows() -> Mapping[str, WorkflowContext]:
    """The workflows defined in this process, by name (read-only; a name defined again names the
    latest definition)."""
    return MappingProxyType(registry)


# --- the current workflow (graflow's functions) -------------------------------------------------

_active: ContextVar[WorkflowContext | None] = ContextVar("graflow_celery_workflow", default=None)
# graflow's implicit workflow: where composition outside any ``with workflow(...)`` goes.
_implicit: ContextVar[WorkflowContext | None] = ContextVar("graflow_celery_implicit_workflow", default=None)


def get_current_workflow_context(create_if_not_exist: bool = False) -> WorkflowContext | None:
    """The ``with workflow(...)`` block's workflow, else the implicit one (made if
    ``create_if_not_exist``), else None."""
    found = _active.get() or _implicit.get()
    if found is None and create_if_not_exist:
        found = WorkflowContext(uuid.uuid4().hex)
        registry.pop(found.name, None)  # nameless: nobody submits it by name
        _implicit.set(found)
    return found


def current_workflow_context() -> WorkflowContext:
    """The ``with workflow(...)`` block's workflow; outside any, the implicit workflow that tasks
    composed outside a block (``a >> b``) went to - made now if there is none. Inside a running task
    this is not the workflow being run (a task may run in another process): use
    ``ctx.execution_context``."""
    found = get_current_workflow_context(create_if_not_exist=True)
    assert found is not None
    return found


def require_workflow_context() -> WorkflowContext:
    found = get_current_workflow_context()
    if found is None:
        raise WorkflowRuntimeError("no current workflow: use `with workflow('name'):`")
    return found


def set_current_workflow_context(context: WorkflowContext) -> None:
    """Make ``context`` the implicit workflow (where composition outside a block goes)."""
    _implicit.set(context)


def clear_workflow_context() -> None:
    """Forget the implicit workflow: the next composition outside a block starts a new one. A
    ``with workflow(...)`` block being run stays current until it ends."""
    _implicit.set(None)


def _implicit_graph(create: bool) -> TaskGraph | None:
    found = get_current_workflow_context(create_if_not_exist=create)
    return found.graph if found is not None else None


set_implicit_workflow(_implicit_graph)
