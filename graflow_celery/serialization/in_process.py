"""The memory backend's values: Python objects, kept as they are (graflow's behaviour).

``dumps`` and ``loads`` hand the object itself on, so a task result, a channel value, a bound
argument or ``next_iteration`` data is the very object the task gave: a DataFrame, a lock, a
lambda, a generator. Nothing is copied - as in graflow, mutating a result mutates what later
tasks see. ``wire`` is the serializer the values would travel in to Celery workers: portable mode
(``wf.execute(portable=True)``) stores in it instead, and checkpoints write with it.
"""

from __future__ import annotations

from typing import Any, Final

from graflow_celery.serialization.protocol import Serializer
from graflow_celery.serialization.tagged_json import TaggedJSONSerializer


class _StoredNone:
    """A stored ``None``: stores read ``None`` as "no value" (no result yet, no such key)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<stored None>"


STORED_NONE: Final = _StoredNone()


class InProcessValues:
    name = "python"

    def __init__(self, wire: Serializer | None = None) -> None:
        self.wire = wire or TaggedJSONSerializer()

    def dumps(self, value: Any) -> Any:
        return STORED_NONE if value is None else value

    def loads(self, data: Any) -> Any:
        return None if data is STORED_NONE else data


def in_process(serializer: Serializer) -> bool:
    """Whether ``serializer`` keeps Python objects (its "bytes" are the objects themselves)."""
    return isinstance(serializer, InProcessValues)
