from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Serializer(Protocol):
    """Turns values into bytes and back. Raise ``SerializationError`` naming the bad value.

    Stores and channels hold what ``dumps`` returns and never look inside it. In process
    (``InProcessValues``) that is the Python object itself, not bytes: the type says ``bytes``
    because that is what travels everywhere else."""

    name: str

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...
