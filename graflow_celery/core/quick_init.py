"""A faster ``__init__`` for the frozen dataclasses made on every step.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``: about
100 ns a field, five times the cost of a plain class - and the engine and the stores make several
of these values per step (``Step``, ``NewStep``, ``StepStart``, ``Applied``, ``Finished``). The
``__init__`` made here takes the same parameters, defaults included, and writes the instance's
``__dict__`` at once. Everything else - immutability, equality, hashing, ``replace``, repr - is
still the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give a frozen dataclass (plain fields with plain defaults only) the faster ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__slots__") or hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init: {cls.__qualname__} must be a frozen dataclass without slots or "
                        "__post_init__")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_set": object.__setattr__}
    arguments = []
    for f in fields:
        if not f.init or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"quick_init: {cls.__qualname__}.{f.name} needs the dataclass's own __init__")
        if f.default is dataclasses.MISSING:
            arguments.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            arguments.append(f"{f.name}=_default_{f.name}")
    values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    source = f"def __init__(self, {', '.join(arguments)}):\n    _set(self, '__dict__', {{{values}}})\n"
    exec(source, namespace)  # the source is built from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc,method-assign]
    return cls
