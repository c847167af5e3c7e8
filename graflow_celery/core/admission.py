"""Which messages may run: the run's frontier is the authority, a message is only a hint.

Every step a transition makes ready is written into the run's frontier (node, scope, phase, cycle,
data, attempt, barrier) in the same atomic change, and leaves it when its own transition is
applied. Before a step runs, its store reports what it holds for the step (``StepStart``) and
``admit`` decides: run it, re-send what an earlier delivery recorded but may not have sent, or
drop the message with a reason. A dropped message never changes the run and never fails it - a
stale message from an older deploy, a duplicate or a forged one are all just logged.

Both stores only read and report; this one function decides, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from graflow_celery.core.steps import FINISHED, Step, StepStart

_IDENTITY = [f.name for f in fields(Step) if f.name not in ("id", "attempt")]


@dataclass(frozen=True)
class Resend:
    """Steps recorded by an earlier delivery of this step and perhaps never sent: send them again."""

    steps: list[Step]
    delay: float = 0.0
    retry: bool = False  # the steps are this step's own next attempt (its retry outbox)


@dataclass(frozen=True)
class Dropped:
    """The message does nothing. ``suspicious``: it cannot have come from this run as it is (forged,
    or from another deploy); otherwise it is a harmless duplicate or a straggler."""

    reason: str
    suspicious: bool = False


Admission = Literal["run"] | Resend | Dropped


def difference(step: Step, entry: Step) -> str | None:
    """How a message's step differs from the frontier's entry for its id, or None."""
    if step is entry:  # in process the message is the frontier's own object
        return None
    for name in _IDENTITY:
        if getattr(step, name) != getattr(entry, name):
            return f"its {name} differs from the run's step {entry.id}"
    if step.attempt != entry.attempt:
        return f"it is attempt {step.attempt} but the run is at attempt {entry.attempt}"
    return None


def admit(step: Step, start: StepStart, *, handoff_token: str | None = None,
          completion: bool = False) -> Admission:
    """Decide what a delivered message does. ``completion``: the message finishes a handed-off
    step (``from_celery``) and must carry the token the real hand-off was given."""
    if start.status == "missing":
        return Dropped("the run is unknown or expired")
    if start.applied:
        if start.outbox:
            return Resend(start.outbox)
        return Dropped(f"step {step.id} was applied already")
    entry = start.frontier
    if entry is None:
        return Dropped(f"step {step.id} is not on the run's frontier", suspicious=True)
    if step.attempt < entry.attempt and start.retry is not None and not completion:
        next_step, delay = start.retry
        return Resend([next_step], delay=delay, retry=True)
    problem = difference(step, entry)
    if problem is not None:
        caught_up = replace(step, attempt=entry.attempt)
        stale = step.attempt < entry.attempt and difference(caught_up, entry) is None
        return Dropped(problem, suspicious=not stale)
    if start.status in FINISHED:
        return Dropped(f"the run is {start.status}")
    if start.status != "running":
        return Dropped(f"the run is {start.status}", suspicious=True)
    if completion:
        if start.handoff_token is None:
            return Dropped(f"step {step.id} is not waiting for a hand-off", suspicious=True)
        if handoff_token != start.handoff_token:
            return Dropped(f"the completion of step {step.id} carries the wrong hand-off token",
                           suspicious=True)
    return "run"

