"""JSON with tags for the common Python types that plain JSON loses.

A tagged value is ``{"__t": tag, "v": payload}``. A user dict that happens to have a ``"__t"`` key,
or has keys that are not strings, is itself written tagged as ``"dict"`` so nothing is ambiguous.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from graflow_celery.errors import SerializationError

_TAG = "__t"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
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
    if isinstance(value, BaseModel):
        cls = type(value)
        return {
            _TAG: "pydantic",
            "cls": f"{cls.__module__}:{cls.__qualname__}",
            "v": value.model_dump(mode="json"),
        }
    raise SerializationError(
        f"cannot serialize a value of type {type(value).__module__}.{type(value).__qualname__} as tagged "
        "JSON; return JSON-friendly data (dict, list, str, numbers, datetime, bytes, Decimal, UUID, "
        "pydantic models) or opt in to signed pickle"
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
        case "pydantic":
            return _load_model_class(value["cls"]).model_validate(payload)
    raise SerializationError(f"unknown tag {tag!r} in stored value")


def _load_model_class(path: str) -> type[BaseModel]:
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SerializationError(f"stored pydantic value names {path!r}, which cannot be imported") from exc
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise SerializationError(f"stored pydantic value names {path!r}, which is not a pydantic model")
    return obj


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
