"""The run's channel: every operation, TTL, typed views, and no lost updates under parallelism."""

from __future__ import annotations

import pytest

from graflow_celery import TaskError
from tests.contract import flows


def test_channel_operations(runner):
    result, _ = runner.execute(flows.single(flows.channel_ops))
    assert result == {
        "k": {"v": 1},
        "missing": "dflt",
        "existed": True,
        "exists_gone": False,
        "lst": [1, 2, 3],
        "n": 3,
        "num": 2.5,
        "keys": ["k", "lst", "num", "short"],
        "short_now": "lived",
        "short_later": None,
    }


def test_parallel_members_lose_no_update(runner):
    width, times = 8, 25
    _, ctx = runner.execute(flows.hammering(width))
    channel = ctx.get_channel()
    assert channel.get("counter") == width * times
    items = channel.get("items")
    assert len(items) == len(set(items)) == width * times


def test_typed_channel_round_trips_typeddict_and_pydantic(runner):
    result, _ = runner.execute(flows.typed_flow())
    assert result == {"order": {"id": 1, "item": "book"}, "amount": 9.5, "to": "ann"}


def test_typed_channel_refuses_an_invalid_message(runner):
    with pytest.raises(TaskError, match="not a valid Order"):
        runner.execute(flows.single(flows.typed_bad))


def test_atomic_add_on_a_non_number_names_the_key(runner):
    with pytest.raises(TaskError, match="channel key 'label' holds a str, not a number") as info:
        runner.execute(flows.single(flows.add_to_text))
    assert info.value.error_type == "TypeError"  # graflow's
