"""Types this process registered: the only classes a stored value may name.

Decoding never imports what a message names. A value of a registered class is written as
``{"__t": "ext", "m": marker, "v": encoded}`` and read back by looking the marker up here; an
unknown marker is refused. Pydantic models register themselves when they appear in a task's
signature or a typed channel (``register_annotated``), and when this process encodes one.

Every registration is also made in kombu's registry (``kombu.utils.json.register_type``), so the
type travels in Celery's own JSON messages too - arguments of ``from_celery`` tasks, for example.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import typing
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from kombu.utils import json as kombu_json
from pydantic import BaseModel

from graflow_celery.errors import ConfigurationError, SerializationError


@dataclass(frozen=True)
class RegisteredType:
    cls: type
    marker: str
    encoder: Callable[[Any], Any]
    decoder: Callable[[Any], Any]


_lock = threading.Lock()
_by_class: dict[type, RegisteredType] = {}
_by_marker: dict[str, RegisteredType] = {}


def default_marker(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _dataclass_fields(value: Any) -> dict[str, Any]:
    # Shallow (not dataclasses.asdict): nested registered values keep their own tag.
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _defaults(cls: type) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
    if issubclass(cls, BaseModel):
        model: type[BaseModel] = cls
        return (lambda value: value.model_dump(mode="json")), model.model_validate
    if dataclasses.is_dataclass(cls):
        return _dataclass_fields, (lambda fields: cls(**fields))
    return None


def register_type(
    cls: type,
    marker: str | None = None,
    encoder: Callable[[Any], Any] | None = None,
    decoder: Callable[[Any], Any] | None = None,
) -> None:
    """Let values of ``cls`` travel (same argument order as kombu's ``register_type``).

    ``marker`` names the type in stored values (default ``"module:qualname"``). Pydantic models
    and dataclasses have default ``encoder``/``decoder``; any other class needs both. Values of
    exactly this class are encoded with it (not subclasses). Registering again replaces.
    """
    if not isinstance(cls, type):
        raise ConfigurationError(f"register_type needs a class, got {cls!r}")
    defaults = _defaults(cls)
    if encoder is None or decoder is None:
        if defaults is None:
            raise ConfigurationError(
                f"register_type({cls.__qualname__}): give an encoder and a decoder (defaults exist only "
                "for pydantic models and dataclasses)")
        encoder, decoder = encoder or defaults[0], decoder or defaults[1]
    entry = RegisteredType(cls, marker or default_marker(cls), encoder, decoder)
    with _lock:
        old = _by_class.get(cls)
        if old is not None and _by_marker.get(old.marker) is old:
            del _by_marker[old.marker]
        _by_class[cls] = _by_marker[entry.marker] = entry
        kombu_json.register_type(cls, entry.marker, entry.encoder, entry.decoder)


def ensure_registered(cls: type) -> RegisteredType:
    """The class's registration, registering it with the defaults if it has none yet."""
    entry = _by_class.get(cls)
    if entry is None:
        register_type(cls)
        entry = _by_class[cls]
    return entry


def for_class(cls: type) -> RegisteredType | None:
    return _by_class.get(cls)


def for_marker(marker: str) -> RegisteredType:
    entry = _by_marker.get(marker)
    if entry is None:
        raise SerializationError(
            f"stored value has type {marker!r}, which this process has not registered; call "
            "graflow_celery.register_type(Cls) where the process starts, or use the type in a task "
            "signature or a typed channel")
    return entry


# --- pydantic models named by annotations --------------------------------------------------------

_seen: weakref.WeakSet[Any] = weakref.WeakSet()  # functions and types already walked


def register_annotated(obj: Any) -> None:
    """Register the pydantic models an annotation names, at any depth: ``Model``, ``list[Model]``,
    ``Model | None``, ``dict[str, tuple[Model, ...]]``, a TypedDict's fields; for a function, its
    parameters and return. String annotations are resolved; ones that cannot be are skipped."""
    try:
        if obj in _seen:
            return
    except TypeError:  # not weak-referenceable: walk it every time
        pass
    complete = True
    if callable(obj) and not isinstance(obj, type):
        hints, complete = _hints(obj)
        for hint in hints.values():
            _walk(hint, set())
    else:
        _walk(obj, set())
    if complete:  # else try again next time: the missing names may be defined by then
        with contextlib.suppress(TypeError):
            _seen.add(obj)


def _hints(obj: Any) -> tuple[dict[str, Any], bool]:
    """The resolved annotations and whether all of them could be resolved."""
    try:
        return typing.get_type_hints(obj), True
    except Exception:  # e.g. a name not defined (yet): resolve the annotations one by one
        pass
    raw = getattr(obj, "__annotations__", None)
    if not isinstance(raw, dict):
        return {}, True
    globalns = getattr(obj, "__globals__", None)
    hints, complete = {}, True
    for name, annotation in raw.items():
        try:
            one = SimpleNamespace(__annotations__={name: annotation})
            hints.update(typing.get_type_hints(one, globalns))
        except Exception:
            complete = False
    return hints, complete


def _walk(hint: Any, seen: set[int]) -> None:
    if id(hint) in seen:
        return
    seen.add(id(hint))
    if isinstance(hint, type) and issubclass(hint, BaseModel) and hint is not BaseModel:
        ensure_registered(hint)
    elif typing.is_typeddict(hint):
        for field in _hints(hint)[0].values():
            _walk(field, seen)
    for arg in typing.get_args(hint):
        _walk(arg, seen)
