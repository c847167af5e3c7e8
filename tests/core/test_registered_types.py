"""Decoding never imports: only classes this process registered come back from stored values."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import TypedDict

import pytest
from pydantic import BaseModel

from graflow_celery import (
    ConfigurationError,
    MemoryChannel,
    SerializationError,
    TaggedJSONSerializer,
    TaskWrapper,
    TypedChannel,
    register_type,
)
from graflow_celery.serialization import registry
from tests.support import evil_import
from tests.support.workers import ROOT

JSON = TaggedJSONSerializer()


def stored(marker: str, payload: object) -> bytes:
    """A value as another process would have written it (this one never encoded it)."""
    return json.dumps({"__t": "ext", "m": marker, "v": payload}).encode()


def test_a_stored_value_naming_a_module_not_imported_is_refused_and_nothing_is_imported(tmp_path):
    marker_file = tmp_path / "imported"
    script = f"""
import sys
from graflow_celery import SerializationError, TaggedJSONSerializer
for raw in [{stored(evil_import.MARKER, {"payload": "x"})!r},
            b'{{"__t": "pydantic", "cls": "{evil_import.MARKER}", "v": {{"payload": "x"}}}}']:
    try:
        TaggedJSONSerializer().loads(raw)
    except SerializationError as exc:
        print(exc)
    else:
        print("DECODED")
print("in sys.modules:", "tests.support.evil_import" in sys.modules)
"""
    # A fresh interpreter: this test process has imported the module already (to name it).
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={"GRAFLOW_EVIL_MARKER": str(marker_file), "PYTHONPATH": str(ROOT)},
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "DECODED" not in done.stdout
    assert all(evil_import.MARKER in line and "register_type" in line for line in lines[:2])
    assert lines[2] == "in sys.modules: False"
    assert not marker_file.exists()


def test_an_unregistered_marker_is_a_clear_error():
    with pytest.raises(SerializationError) as info:
        JSON.loads(stored("somewhere.far:Unknown", {}))
    message = str(info.value)
    assert "'somewhere.far:Unknown'" in message and "not registered" in message
    assert "graflow_celery.register_type(Cls)" in message and "task signature or a typed channel" in message


class Invoice(BaseModel):  # module level, as in a real tasks module; nothing else here uses them
    amount: float


class Line(BaseModel):
    sku: str


def test_a_model_in_a_task_signature_is_registered_and_round_trips():
    marker = registry.default_marker(Invoice)
    with pytest.raises(SerializationError, match="not registered"):
        JSON.loads(stored(marker, {"amount": 1.5}))

    def bill(lines: list[Line] | None, extra: dict[str, tuple[int, Line]]) -> Invoice:
        return Invoice(amount=len(lines or []))

    TaskWrapper("bill", bill)
    assert JSON.loads(stored(marker, {"amount": 1.5})) == Invoice(amount=1.5)
    assert JSON.loads(stored(registry.default_marker(Line), {"sku": "a"})) == Line(sku="a")


class Point3(BaseModel):
    x: int


def test_an_annotation_that_cannot_be_resolved_does_not_hide_the_others():
    def uses_strings(x: Point3, y: NoSuchName) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    assert registry.for_class(Point3) is None
    TaskWrapper("strings", uses_strings)  # NoSuchName cannot be resolved: tolerated
    assert registry.for_class(Point3) is not None


class Item(BaseModel):
    name: str


class Basket(TypedDict):
    items: list[Item]
    owner: str


def test_a_model_nested_in_a_typeddict_of_a_typed_channel_round_trips():
    marker = registry.default_marker(Item)
    with pytest.raises(SerializationError, match="not registered"):
        JSON.loads(stored(marker, {"name": "pen"}))
    typed = TypedChannel(MemoryChannel(), Basket)
    assert JSON.loads(stored(marker, {"name": "pen"})) == Item(name="pen")
    typed.send("b", {"items": [Item(name="pen")], "owner": "ann"})
    assert typed.receive("b") == {"items": [Item(name="pen")], "owner": "ann"}


def test_encoding_a_model_registers_it():
    class Fresh(BaseModel):
        v: int

    data = JSON.dumps(Fresh(v=1))
    assert json.loads(data)["m"] == registry.default_marker(Fresh)
    assert JSON.loads(data) == Fresh(v=1)


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str


def test_a_registered_dataclass_round_trips_with_nested_tagged_values():
    with pytest.raises(SerializationError, match="cannot serialize"):
        JSON.dumps(Money(1, "EUR"))
    register_type(Money)
    value = {"price": Money(5, "EUR"), "pair": (Money(1, "USD"), b"\x00")}
    assert JSON.loads(JSON.dumps(value)) == value


class Celsius:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Celsius) and other.degrees == self.degrees


def test_any_class_with_an_encoder_and_decoder_travels_in_tagged_json_and_in_kombu_json():
    from kombu.utils import json as kombu_json

    with pytest.raises(ConfigurationError, match="give an encoder and a decoder"):
        register_type(Celsius)
    register_type(Celsius, "celsius", lambda c: c.degrees, Celsius)
    assert JSON.loads(JSON.dumps([Celsius(21.5)])) == [Celsius(21.5)]
    assert json.loads(JSON.dumps(Celsius(1)))["m"] == "celsius"
    assert kombu_json.loads(kombu_json.dumps({"t": Celsius(3)})) == {"t": Celsius(3)}


def test_a_failing_decoder_is_a_serialization_error():
    class Strict(BaseModel):
        n: int

    register_type(Strict)
    with pytest.raises(SerializationError, match="could not be decoded"):
        JSON.loads(stored(registry.default_marker(Strict), {"n": "not a number"}))


class Legacy(BaseModel):
    n: int


def test_values_written_with_the_old_pydantic_tag_decode_through_the_registry():
    raw = json.dumps({"__t": "pydantic", "cls": registry.default_marker(Legacy), "v": {"n": 1}}).encode()
    with pytest.raises(SerializationError, match="not registered"):
        JSON.loads(raw)
    register_type(Legacy)
    assert JSON.loads(raw) == Legacy(n=1)
