"""The workflow being defined right now (set by ``with workflow(...)``), as a context variable."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graflow_celery.core.graph import TaskGraph

current_graph: ContextVar[TaskGraph | None] = ContextVar("graflow_celery_current_graph", default=None)
