"""Shared fixtures. ``runner`` is parametrised by backend: every contract test runs on each."""

from __future__ import annotations

from typing import Any

import pytest

BACKENDS = ["memory"]


class MemoryRunner:
    name = "memory"

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers

    def execute(self, wf: Any, **kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("max_workers", self.max_workers)
        return wf.execute(ret_context=True, **kwargs)

    def run_context(self, wf: Any, **kwargs: Any) -> Any:
        """Run and return the context even when the run fails (to look at what happened)."""
        from graflow_celery import ExecutionContext, WorkflowEngine

        context = ExecutionContext.create(wf.graph, max_workers=self.max_workers, **kwargs)
        try:
            WorkflowEngine().execute(context)
        except Exception as exc:
            return context, exc
        return context, None


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryRunner()
    raise AssertionError(request.param)
