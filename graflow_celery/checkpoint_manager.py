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
        loaded = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
        context = MemoryBackend(max_workers, serializer, portable=portable).restore(loaded)
        return context, loaded.metadata
