"""graflow's ``graflow.core.checkpoint`` path. The checkpoint API lives at the package's top level
(``checkpoint_manager.py``, ``checkpoints.py``), since resuming builds a run on a backend."""

from graflow_celery.checkpoint_manager import CheckpointManager
from graflow_celery.checkpoints import CheckpointMetadata

__all__ = ["CheckpointManager", "CheckpointMetadata"]
