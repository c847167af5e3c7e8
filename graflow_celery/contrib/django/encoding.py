"""Run data as JSON, with Django's conventions (``DjangoJSONEncoder``: datetimes in ISO 8601,
Decimal and UUID as strings), plus what tasks often return besides: sets, bytes, pydantic models,
dataclasses, enums. Anything else is shown as its ``str``, so that a view never fails on a value."""

from __future__ import annotations

import base64
import dataclasses
import enum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse


class RunJSONEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, set | frozenset):
            return sorted(o, key=repr)
        if isinstance(o, bytes):
            return base64.b64encode(o).decode("ascii")
        if isinstance(o, enum.Enum):
            return o.value
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        dump = getattr(o, "model_dump", None)  # pydantic
        if callable(dump):
            return dump(mode="json")
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def json_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, encoder=RunJSONEncoder)
