"""JSON with tags for the common Python types that plain JSON loses.

A tagged value is ``{"__t": tag, "v": payload}``. A user dict that happens to have a ``"__t"`` key,
or has keys that are not strings, is itself written tagged as ``"dict"`` so nothing is ambiguous.
Values of registered classes (``registry.py``: pydantic models, dataclasses, anything with an
encoder) are ``{"__t": "ext", "m": marker, "v": encoded}``; decoding looks the marker up among the
types this process registered and never imports what a stored value names.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from graflow_celery.errors import SerializationError
from graflow_celery.serialization import registry

_TAG = "__t"
_PLAIN = (type(None), bool, int, float, str)


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    entry = registry.for_class(kind)
    if entry is None and isinstance(value, BaseModel):  # the sender has the class: register it
        entry = registry.ensure_registered(kind)
    if entry is not None:
        return {_TAG: "ext", "m": entry.marker, "v": _encode(entry.encoder(value))}
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {_TAG: "frozenset", "v": [_encode(v) for v in value]}
    if isinstance(value, set):
        return {_TAG: "set", "v": [_encode(v) for v in value]}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {_TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": str(value)}
    raise SerializationError(
        f"cannot serialize a value of type {kind.__module__}.{kind.__qualname__} as tagged JSON; "
        "return JSON-friendly data (dict, list, str, numbers, datetime, bytes, Decimal, UUID, pydantic "
        "models), register the type with graflow_celery.register_type, or opt in to signed pickle"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    payload: Any = value["v"]
    match tag:
        case "dict":
            return {_decode(k): _decode(v) for k, v in payload}
        case "tuple":
            return tuple(_decode(v) for v in payload)
        case "set":
            return {_decode(v) for v in payload}
        case "frozenset":
            return frozenset(_decode(v) for v in payload)
        case "bytes":
            return base64.b64decode(payload)
        case "datetime":
            return dt.datetime.fromisoformat(payload)
        case "date":
            return dt.date.fromisoformat(payload)
        case "time":
            return dt.time.fromisoformat(payload)
        case "timedelta":
            return dt.timedelta(seconds=payload)
        case "decimal":
            return Decimal(payload)
        case "uuid":
            return uuid.UUID(payload)
        case "ext":
            return _registered(value["m"], payload)
        case "pydantic":  # written before the registry: the marker is the model's module:qualname
            return _registered(value["cls"], payload)
    raise SerializationError(f"unknown tag {tag!r} in stored value")


def _registered(marker: Any, payload: Any) -> Any:
    if not isinstance(marker, str):
        raise SerializationError(f"stored value has a malformed type marker {marker!r}")
    entry = registry.for_marker(marker)
    try:
        return entry.decoder(_decode(payload))
    except SerializationError:
        raise
    except Exception as exc:  # the registered decoder (e.g. model validation) refused the payload
        raise SerializationError(f"stored {marker!r} value could not be decoded: {exc}") from exc


class TaggedJSONSerializer:
    """The default serializer: readable in Redis, safe to load, covers the common types."""

    name = "json"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(_encode(value), separators=(",", ":"), allow_nan=True).encode()

    def loads(self, data: bytes) -> Any:
        try:
            return _decode(json.loads(data))
        except (ValueError, TypeError, KeyError) as exc:
            raise SerializationError(f"stored value is not valid tagged JSON: {exc}") from exc
