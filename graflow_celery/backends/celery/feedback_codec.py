"""A run's requests for feedback as its Redis hash holds them (``RunKeys.feedback``): per request
"<key>" (the request as made, JSON written once), "<key>|s" (its state: small scalars the
``lua/feedback_*.lua`` scripts change) and "<key>|a" (the answer, as given). ``fbwait`` maps each
step with a waiting request to its key."""

from __future__ import annotations

import json
from typing import Any

from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.core.feedback_record import WAITING, FeedbackRecord


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def records_of(fields: dict[bytes, bytes] | dict[str, bytes]) -> dict[str, FeedbackRecord]:
    """The records in a run's ``feedback`` hash (``HGETALL``)."""
    flat = {text(k): v for k, v in fields.items()}
    return {key: FeedbackRecord.from_parts(request, flat[f"{key}|s"], flat.get(f"{key}|a"))
            for key, request in flat.items() if "|" not in key and f"{key}|s" in flat}


def write_records(pipe: Any, keys: RunKeys, records: dict[str, FeedbackRecord], ttl: int) -> None:
    """Queue the commands that replace the run's requests with ``records``."""
    pipe.delete(keys.feedback, keys.feedback_waiting)
    fields: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for key, record in records.items():
        fields[key] = json.dumps(record.request_part())
        fields[f"{key}|s"] = json.dumps({k: v for k, v in record.state_part().items() if v is not None})
        if record.answer is not None:
            fields[f"{key}|a"] = json.dumps(record.answer)
        if record.status == WAITING:
            waiting[record.step] = key
    if fields:
        pipe.hset(keys.feedback, mapping=fields)
        pipe.expire(keys.feedback, ttl)
    if waiting:
        pipe.hset(keys.feedback_waiting, mapping=waiting)
        pipe.expire(keys.feedback_waiting, ttl)
