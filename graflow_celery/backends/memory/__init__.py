"""The embedded default backend: a workflow run in this process, on a small thread pool."""

from graflow_celery.backends.memory.backend import MemoryBackend
from graflow_celery.backends.memory.executor import LocalExecutor
from graflow_celery.backends.memory.store import MemoryRunStore

__all__ = ["LocalExecutor", "MemoryBackend", "MemoryRunStore"]
