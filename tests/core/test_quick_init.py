"""The faster __init__ of the frozen values made on every step keeps the dataclass's behaviour."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from graflow_celery.core.engine import Finished
from graflow_celery.core.quick_init import quick_init
from graflow_celery.core.steps import Applied, NewStep, Step, StepStart


def test_defaults_keywords_equality_hashing_and_replace_are_the_dataclass_s():
    step = Step("3", "load", cycle=2)
    assert (step.scope, step.phase, step.cycle, step.data, step.attempt, step.barrier) == ("", "run", 2, None,
                                                                                        0, "")
    assert step == Step(id="3", node="load", scope="", phase="run", cycle=2)
    assert hash(step) == hash(Step("3", "load", "", "run", 2))
    assert dataclasses.replace(step, attempt=1) == Step("3", "load", cycle=2, attempt=1)
    assert repr(NewStep("x")) == "NewStep(node='x', phase='run', data=None)"
    assert pickle.loads(pickle.dumps(step)) == step
    assert StepStart("running").frontier is None and Applied(True, []).ended is None
    assert Finished("completed").value is None


def test_the_values_stay_immutable_and_arguments_are_checked():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Step("1", "a").attempt = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Step("1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Step("1", "a", colour="red")  # type: ignore[call-arg]


def test_it_refuses_what_it_cannot_reproduce():
    @dataclasses.dataclass
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class WithFactory:
        xs: list[int] = dataclasses.field(default_factory=list)

    for cls in (Mutable, WithFactory):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)
