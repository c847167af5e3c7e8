"""graflow's ``graflow.channels.memory_channel`` path."""

from graflow_celery.channels.memory import MemoryChannel

__all__ = ["MemoryChannel"]
