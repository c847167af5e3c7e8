"""graflow's checkpoint API: ``CheckpointManager.create_checkpoint`` / ``resume_from_checkpoint``.

A checkpoint resumes on the memory backend here; ``graflow_celery.resume(path, app=app)`` resumes
one on Celery workers. Either backend reads the other's checkpoints.
"""

from __future__ import annotations

import os
from typing import Any

from graflow_celery.backends.memory import MemoryBackend
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata
from graflow_celery.core.context import ExecutionContext
from graflow_celery.serialization import Serializer


class CheckpointManager:
    @classmethod
    def create_checkpoint(cls, context: ExecutionContext, *, path: str | None = None,
                          metadata: dict[str, Any] | None = None) -> tuple[str, CheckpointMetadata]:
        """Write a checkpoint of a run (running or ended) and return ``(path, metadata)``."""
        path_written, info = context.checkpoint(path, metadata)
        return path_written, info

    @classmethod
    def resume_from_checkpoint(
        cls, checkpoint: str | os.PathLike[str] | Checkpoint, *, max_workers: int = 4,
        serializer: Serializer | None = None, portable: bool = False,
    ) -> tuple[ExecutionContext, CheckpointMetadata]:
        """A context that goes on from the checkpoint in this process: ``WorkflowEngine().execute(
        context)`` finishes the run. A failed run's failed steps run again with fresh retries.
        Values pickled by an in-process checkpoint are loaded: resume only checkpoints you trust,
        as with any pickle. ``portable``: as for ``wf.execute``."""
        loaded = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(_written(checkpoint))
        context = MemoryBackend(max_workers, serializer, portable=portable).restore(loaded)
        return context, loaded.metadata


# graflow writes a checkpoint as three files, <path>.pkl, <path>.state.json and <path>.meta.json,
# and programs resume from one of those names; here a checkpoint is the one document at <path>.
_GRAFLOW_SUFFIXES = (".pkl", ".state.json", ".meta.json")


def _written(path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """The document a graflow-style name stands for, when only that document exists."""
    name = os.fspath(path)
    if not os.path.exists(name):
        for suffix in _GRAFLOW_SUFFIXES:
            if name.endswith(suffix) and os.path.exists(name[: -len(suffix)]):
                return name[: -len(suffix)]
    return path
