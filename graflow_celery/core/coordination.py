"""``CoordinationBackend``: graflow's per-group choice of where a group's members run.

graflow picks it per parallel group (``with_execution(backend=...)``): DIRECT runs the members one
after another in the calling thread, THREADING on a thread pool, REDIS on separate graflow
workers. Here the whole run has one backend, chosen when it starts, and every group's members run
there: on the in-process thread pool (``wf.execute()``), or as Celery messages on the workers
(``submit(wf)``) - which is what REDIS asks for. So a program that names a coordination backend
runs unchanged; the name is checked, kept on the group, and does not move its members.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from graflow_celery.errors import GraphDefinitionError


class CoordinationBackend(Enum):
    REDIS = "redis"  # here: submit the workflow to Celery
    THREADING = "threading"  # here: the run's executor (in process: its thread pool)
    DIRECT = "direct"  # here: the run's executor (``max_workers=1`` runs one member at a time)


def resolve_backend(backend: CoordinationBackend | str | None) -> CoordinationBackend | None:
    """A ``CoordinationBackend`` from itself, its value or its name (any case); None stays None."""
    if backend is None or isinstance(backend, CoordinationBackend):
        return backend
    if isinstance(backend, str):
        for member in CoordinationBackend:
            if backend.lower() in (member.value, member.name.lower()):
                return member
    raise GraphDefinitionError(
        f"unknown coordination backend {backend!r}; use one of "
        f"{[m.name for m in CoordinationBackend]} (CoordinationBackend.THREADING, ...)")


def check_backend_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise GraphDefinitionError(f"backend_config must be a dict, got {type(config).__name__}")
    return dict(config)
