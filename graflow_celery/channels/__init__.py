"""Channels: the run's shared key/value space that tasks read and write."""

from graflow_celery.channels.base import Channel
from graflow_celery.channels.memory import MemoryChannel
from graflow_celery.channels.typed import TypedChannel

__all__ = ["Channel", "MemoryChannel", "TypedChannel"]
