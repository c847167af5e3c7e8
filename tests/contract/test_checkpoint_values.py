"""Checkpoints of in-process runs that hold Python objects: what JSON cannot carry is pickled,
marked in the document; the memory backend resumes it with the objects, a portable run or a
Celery app without signed pickle refuses it before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graflow_celery import CheckpointError, CheckpointManager, SerializationError
from tests.conftest import Runner
from tests.contract import value_flows
from tests.contract.test_checkpoints import _run_count


def gadget_checkpoint(tmp_path) -> str:
    path = tmp_path / "gadget.json"
    result, _ = Runner("memory-objects").execute(value_flows.checkpointed_gadget(),
                                                 initial_channel={"checkpoint_path": str(path)})
    assert result == 42
    return str(path)


def test_an_in_process_checkpoint_pickles_only_what_json_cannot_carry_and_says_so(tmp_path):
    document = json.loads(Path(gadget_checkpoint(tmp_path)).read_text())
    assert document["values"] == "json+pickle"
    pickled = document["run"]["results"]["make_gadget"]
    assert (pickled["__t"], pickled["type"]) == ("pickle", "tests.contract.value_flows.Gadget")
    assert document["channel"]["gadget"]["value"]["__t"] == "pickle"
    assert document["channel"]["plain"]["value"] == {"n": 40}  # what JSON carries stays readable


def test_an_in_process_checkpoint_of_python_objects_resumes_in_process_only(resumer, tmp_path):
    path = gadget_checkpoint(tmp_path)
    if not resumer.portable:
        resumed, channel = resumer.resume(path)
        assert resumed == 42
        assert isinstance(channel.get("gadget"), value_flows.Gadget)
        return
    before = _run_count(resumer)
    with pytest.raises(CheckpointError) as info:
        resumer.resume(path)
    assert "the result of task 'make_gadget' is a tests.contract.value_flows.Gadget that only pickle " \
           "could write" in str(info.value)
    assert "graflow_pickle_key" in str(info.value)
    assert _run_count(resumer) == before


def test_a_checkpoint_refuses_a_value_neither_json_nor_pickle_can_write_naming_it(tmp_path):
    _, ctx = Runner("memory-objects").execute(value_flows.holds_a_lock())
    with pytest.raises(SerializationError) as info:
        CheckpointManager.create_checkpoint(ctx, path=str(tmp_path / "lock.json"))
    assert "the result of task 'make_lock'" in str(info.value)
    assert "_thread.lock" in str(info.value)
    assert not (tmp_path / "lock.json").exists()
