"""``with workflow("name") as wf:`` - define a workflow, then ``wf.execute()`` it."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextvars import Token
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

from graflow_celery.core import pictures
from graflow_celery.core.composition import Executable
from graflow_celery.core.context import DEFAULT_MAX_CYCLES, DEFAULT_MAX_STEPS, ExecutionContext, RunLimits
from graflow_celery.core.current import current_graph
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.feedback_store import park_requests
from graflow_celery.core.graph import TaskGraph
from graflow_celery.errors import GraphDefinitionError
from graflow_celery.serialization import Serializer


class Backend(Protocol):
    """Where runs execute: ``MemoryBackend(...)`` in this process."""

    def new_run(self, graph: TaskGraph, start_node: str | None = None, *, limits: RunLimits | None = None,
                name: str = "workflow") -> ExecutionContext: ...


# Workflows by name, so that a process can submit one it has imported by its name.
registry: dict[str, WorkflowContext] = {}


class WorkflowContext:
    def __init__(self, name: str) -> None:
        self.name = name
        self.graph = TaskGraph()
        self._tokens: list[Token[TaskGraph | None]] = []
        self.module, self.file = _defined_where()
        _register(self)

    def __enter__(self) -> WorkflowContext:
        self._tokens.append(current_graph.set(self.graph))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        current_graph.reset(self._tokens.pop())

    def add(self, *executables: Executable) -> WorkflowContext:
        """Add tasks or groups that no edge mentions (a one-task workflow, a goto target)."""
        for executable in executables:
            for node in executable.nodes():
                self.graph.add_node(node)
        return self

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
        park_on_feedback: bool = False,
    ) -> Any:
        """Run the workflow and return the last task's result (``(result, context)`` with
        ``ret_context=True``; the context offers ``get_result(task_id)`` and ``get_channel()``).
        ``backend``: "memory", "celery", or a backend object such as
        ``MemoryBackend(max_workers=8, shutdown_timeout=10)``. ``park_on_feedback``: a task that
        waits for a person parks instead of blocking; once nothing else can run, the run's
        checkpoint is written and ``WorkflowParkedError`` raised (on Celery steps always park)."""
        if isinstance(backend, str):
            context = ExecutionContext.create(
                self.graph, start_node, channel_backend=backend, name=self.name, max_steps=max_steps,
                max_cycles=max_cycles, max_workers=max_workers, serializer=serializer,
            )
        else:
            self.graph.resolve_start(start_node)  # the same checks, before anything runs
            context = backend.new_run(self.graph, start_node, limits=RunLimits(max_steps, max_cycles),
                                      name=self.name)
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


def workflow(name: str) -> WorkflowContext:
    return WorkflowContext(name)


def workflows() -> Mapping[str, WorkflowContext]:
    """The workflows defined in this process, by name (read-only; a name defined again names the
    latest definition)."""
    return MappingProxyType(registry)
