from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel

from graflow_celery import SerializationError, SignedPickleSerializer, TaggedJSONSerializer


class Point(BaseModel):
    x: int
    y: int


VALUES = [
    None, True, 3, 2.5, "text", [1, [2]], {"a": {"b": 1}},
    (1, 2), {1, 2}, frozenset({"x"}), b"\xff\x00",
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), dt.date(2026, 1, 2), dt.time(3, 4),
    dt.timedelta(seconds=90), Decimal("1.10"), uuid.UUID(int=5), Point(x=1, y=2),
    {1: "int key", (1, 2): "tuple key"}, {"__t": "looks like a tag"},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_tagged_json_round_trips(value):
    ser = TaggedJSONSerializer()
    back = ser.loads(ser.dumps(value))
    assert back == value
    assert type(back) is type(value)


def test_tagged_json_names_the_type_it_cannot_carry():
    with pytest.raises(SerializationError, match=r"builtins\.object"):
        TaggedJSONSerializer().dumps({"x": object()})


def test_tagged_json_refuses_garbage():
    with pytest.raises(SerializationError):
        TaggedJSONSerializer().loads(b"{not json")
    with pytest.raises(SerializationError, match="unknown tag"):
        TaggedJSONSerializer().loads(b'{"__t": "evil", "v": 1}')


def test_signed_pickle_round_trips_and_refuses_a_forged_payload():
    ser = SignedPickleSerializer("k" * 32)
    data = ser.dumps({"a": (1, 2)})
    assert ser.loads(data) == {"a": (1, 2)}
    forged = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(SerializationError, match="signature"):
        ser.loads(forged)
    with pytest.raises(SerializationError, match="signature"):
        SignedPickleSerializer("o" * 32).loads(data)


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v


def test_a_portable_workflow_can_opt_in_to_signed_pickle_for_values():
    from graflow_celery import TaskError, TaskWrapper, workflow

    def make() -> Opaque:
        return Opaque(3)

    def use(make: Opaque) -> int:
        return make.v + 1

    with workflow("opaque") as wf:
        TaskWrapper("make", make) >> TaskWrapper("use", use)
    assert wf.execute() == 4  # in process, the object itself
    with pytest.raises(TaskError, match="cannot serialize"):
        wf.execute(portable=True)
    assert wf.execute(serializer=SignedPickleSerializer("k" * 32), portable=True) == 4


def use_conn(conn: Opaque) -> int:
    return conn.v + 1


def test_a_bound_value_tagged_json_cannot_carry_fails_a_portable_run_naming_the_task_and_key():
    from graflow_celery import BoundArgumentError, TaskWrapper, workflow

    with workflow("bound_opaque") as wf:
        TaskWrapper("use_conn", use_conn, bound_kwargs={"conn": Opaque(3)})
    assert wf.execute() == 4  # in process, the object itself
    with pytest.raises(BoundArgumentError) as info:
        wf.execute(portable=True)
    assert isinstance(info.value, SerializationError)
    assert (info.value.task_id, info.value.key) == ("use_conn", "conn")
    assert "task 'use_conn': bound argument 'conn' cannot be serialized" in str(info.value)
    assert wf.execute(serializer=SignedPickleSerializer("k" * 32), portable=True) == 4
