"""Which delivered messages may run: the frontier decides, every other message is dropped with a
reason (and is never an error)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graflow_celery.core.admission import Dropped, Resend, admit
from graflow_celery.core.steps import Step, StepStart

ON_FRONTIER = Step("5", "charge", scope="3/1", cycle=2, data=b'"x"', attempt=1)


def start(**changes) -> StepStart:
    return replace(StepStart("running", frontier=ON_FRONTIER), **changes)


def test_the_step_the_frontier_holds_runs():
    assert admit(ON_FRONTIER, start()) == "run"


@pytest.mark.parametrize("forged, reason", [
    (replace(ON_FRONTIER, node="refund"), "node differs"),
    (replace(ON_FRONTIER, scope=""), "scope differs"),
    (replace(ON_FRONTIER, phase="judge"), "phase differs"),
    (replace(ON_FRONTIER, cycle=0), "cycle differs"),
    (replace(ON_FRONTIER, data=b'"y"'), "data differs"),
    (replace(ON_FRONTIER, data=None), "data differs"),
    (replace(ON_FRONTIER, barrier="3"), "barrier differs"),
    (replace(ON_FRONTIER, attempt=7), "attempt 7 but the run is at attempt 1"),
])
def test_a_message_that_differs_from_the_frontier_is_dropped_as_suspicious(forged, reason):
    verdict = admit(forged, start())
    assert isinstance(verdict, Dropped) and verdict.suspicious
    assert reason in verdict.reason


def test_an_earlier_attempt_is_a_harmless_stale_message():
    verdict = admit(replace(ON_FRONTIER, attempt=0), start())
    assert verdict == Dropped("it is attempt 0 but the run is at attempt 1", suspicious=False)


def test_an_earlier_attempt_resends_a_retry_that_may_not_have_been_sent():
    verdict = admit(replace(ON_FRONTIER, attempt=0), start(retry=(ON_FRONTIER, 2.5)))
    assert verdict == Resend([ON_FRONTIER], delay=2.5, retry=True)


def test_a_step_not_on_the_frontier_is_dropped():
    verdict = admit(Step("99", "charge"), start(frontier=None))
    assert isinstance(verdict, Dropped) and verdict.suspicious
    assert "not on the run's frontier" in verdict.reason


def test_an_applied_step_resends_its_outbox_or_does_nothing():
    outbox = [Step("6", "ship")]
    assert admit(ON_FRONTIER, start(applied=True, frontier=None, outbox=outbox)) == Resend(outbox)
    assert admit(ON_FRONTIER, start(applied=True, frontier=None)) == Dropped("step 5 was applied already")


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_frontier_step_of_an_ended_run_does_nothing(status):
    assert admit(ON_FRONTIER, start(status=status)) == Dropped(f"the run is {status}")


def test_an_unknown_run_does_nothing():
    verdict = admit(ON_FRONTIER, start(status="missing", frontier=None))
    assert verdict == Dropped("the run is unknown or expired")


def test_a_hand_off_completion_needs_the_token_of_the_real_hand_off():
    waiting = start(handoff_token="secret")
    assert admit(ON_FRONTIER, waiting, handoff_token="secret", completion=True) == "run"
    wrong = admit(ON_FRONTIER, waiting, handoff_token="guess", completion=True)
    assert isinstance(wrong, Dropped) and wrong.suspicious and "wrong hand-off token" in wrong.reason
    missing = admit(ON_FRONTIER, start(), handoff_token="secret", completion=True)
    assert isinstance(missing, Dropped) and "not waiting for a hand-off" in missing.reason
