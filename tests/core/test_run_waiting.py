"""A run reads "waiting" only if, at one instant, it was running and every step on its (non-empty)
frontier waited for an answer - even when it ends while its handle looks. The run here is a fake
whose state moves on right after the first look at its steps, deterministically."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from graflow_celery.core.run_handle import RunHandle
from graflow_celery.core.steps import Step


@dataclass
class Instant:
    status: str
    frontier: set[str]
    waiting: set[str]


@dataclass
class MovingRun:
    """A ``StoredRun`` (store and feedback store in one) that is ``before`` until its frontier or
    its waiting steps are first read, and ``after`` from then on."""

    before: Instant
    after: Instant
    run_id: str = "r1"
    looked: bool = False

    @property
    def store(self) -> MovingRun:
        return self

    @property
    def feedback(self) -> MovingRun:
        return self

    def _now(self, moves: bool) -> Instant:
        now = self.after if self.looked else self.before
        self.looked = self.looked or moves
        return now

    def status(self) -> str:
        return self._now(moves=False).status

    def frontier(self) -> dict[str, Step]:
        return {i: Step(i, "ask") for i in self._now(moves=True).frontier}

    def waiting_steps(self) -> set[str]:
        return set(self._now(moves=True).waiting)


ASKING = Instant("running", frontier={"2"}, waiting={"2"})


@pytest.mark.parametrize("after", [
    Instant("completed", frontier=set(), waiting={"2"}),  # its request still reads waiting
    Instant("completed", frontier=set(), waiting=set()),  # answered, and the run went on to its end
], ids=["request-left-waiting", "request-answered"])
def test_a_run_that_ends_while_its_handle_looks_does_not_read_waiting(after):
    run = MovingRun(ASKING, after)
    assert RunHandle(run).status() in ("running", "completed")  # true at one instant or the other


def test_a_run_cancelled_while_its_handle_looks_does_not_read_waiting():
    run = MovingRun(ASKING, Instant("cancelled", frontier={"2"}, waiting={"2"}))
    assert RunHandle(run).status() in ("running", "cancelled")


def test_a_run_whose_every_step_waits_reads_waiting():
    run = MovingRun(ASKING, ASKING)
    assert RunHandle(run).status() == "waiting"


def test_a_running_run_with_an_empty_frontier_is_not_waiting():
    run = MovingRun(Instant("running", frontier=set(), waiting={"2"}),
                    Instant("running", frontier=set(), waiting={"2"}))
    assert RunHandle(run).status() == "running"


def test_a_run_with_a_step_that_does_not_wait_is_not_waiting():
    both = Instant("running", frontier={"2", "3"}, waiting={"2"})
    assert RunHandle(MovingRun(both, both)).status() == "running"
