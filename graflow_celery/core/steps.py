"""The data the engine and the backends exchange: steps, transitions, and what applying one did.

A *step* is one execution of one node. A *transition* is the engine's decision after a step ran;
a backend applies it atomically and returns the steps it made ready. Backends never decide: they
count (join tokens, in-flight steps per scope, group barriers) exactly as the transition says.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from graflow_celery.core.quick_init import quick_init

ROOT_SCOPE = ""  # the run itself; a branch of a group is "<group step id>/<member index>"

# "judge": a group's continuation, fired by its barrier; "skip": a join whose wave was cut short by a
# goto - it does not run, it only passes the skip on so that later waves start clean.
StepPhase = Literal["run", "judge", "skip"]
TransitionKind = Literal["completed", "launched", "skipped", "failed", "cancelled"]
RunEnd = Literal["terminated", "cancelled", "failed"]
# "pending": stored, not started; "discarded": stored and never started (the transaction that
# submitted it rolled back); "missing": the run is unknown, or its state expired
RunStatus = Literal["pending", "running", "completed", "failed", "cancelled", "discarded", "missing"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled", "discarded"})


@quick_init
@dataclass(frozen=True)
class Step:
    id: str  # the run's sequence number, allocated when the step was made ready
    node: str
    scope: str = ROOT_SCOPE
    phase: StepPhase = "run"
    cycle: int = 0  # how many steps of this node were made ready to run before it (cycle_count - 1)
    data: bytes | None = None  # serialized next_iteration() data
    attempt: int = 0  # retries so far; not part of the step's identity
    barrier: str = ""  # a judge step: the id of the group step whose barrier fired it

    @property
    def number(self) -> int:
        return int(self.id)

    def next_attempt(self) -> Step:
        return replace(self, attempt=self.attempt + 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "scope": self.scope,
            "phase": self.phase,
            "cycle": self.cycle,
            "data": self.data.hex() if self.data is not None else None,
            "attempt": self.attempt,
            "barrier": self.barrier,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Step:
        """The step a message or a store describes; ``ValueError`` naming the first bad field."""
        if not isinstance(raw, dict):
            raise ValueError(f"a step must be a dict, not {type(raw).__name__}")
        step_id, data = raw.get("id"), raw.get("data")
        if not (isinstance(step_id, str) and step_id.isascii() and step_id.isdigit()
                and step_id == str(int(step_id)) and step_id != "0"):
            raise ValueError("id must be a positive step number as a string")
        if not isinstance(data, str | None):
            raise ValueError("data must be a hex string or null")
        step = cls(id=step_id, node=raw.get("node"),  # type: ignore[arg-type]
                   scope=raw.get("scope", ROOT_SCOPE), phase=raw.get("phase", "run"),
                   cycle=raw.get("cycle", 0), data=bytes.fromhex(data) if data is not None else None,
                   attempt=raw.get("attempt", 0), barrier=raw.get("barrier", ""))
        for name in ("node", "scope", "barrier"):
            if not isinstance(getattr(step, name), str):
                raise ValueError(f"{name} must be a string")
        if not step.node:
            raise ValueError("node must not be empty")
        if step.phase not in ("run", "judge", "skip"):
            raise ValueError("phase must be run, judge or skip")
        for name in ("cycle", "attempt"):
            value = getattr(step, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0")
        return step


@quick_init
@dataclass(frozen=True)
class NewStep:
    """A step to make ready unconditionally, in the scope of the step that ran. The store numbers
    its ``cycle``: every step that runs a node counts, whatever made it ready (graflow counts a
    task's runs in the workflow, through next_iteration, goto or a cycle of edges alike)."""

    node: str
    phase: StepPhase = "run"
    data: bytes | None = None


@dataclass(frozen=True)
class Delivery:
    """A token on the edge ``src -> node``. Once every edge in ``required`` has a token, the store
    takes the oldest from each: the node runs if all were real, or is skipped if any was a skip
    token (its predecessor's path was cut by a goto)."""

    node: str
    src: str
    required: tuple[str, ...]
    skip: bool = False


@dataclass(frozen=True)
class CheckpointRequest:
    """``ctx.checkpoint(deferred=True)``: taken once the step's transition is applied."""

    path: str | None
    metadata: dict[str, Any]


@dataclass
class Transition:
    step: Step
    kind: TransitionKind
    result: bytes | None = None  # serialized return value (kind == "completed")
    error: dict[str, Any] | None = None  # error record (kind == "failed" or run_end set)
    run_end: RunEnd | None = None
    enqueue: list[NewStep] = field(default_factory=list)
    deliver: list[Delivery] = field(default_factory=list)
    launch: list[str] | None = None  # a group step: entry node of each member branch
    new_nodes: list[Any] = field(default_factory=list)  # nodes added at run time
    checkpoint: CheckpointRequest | None = None
    value: Any = None  # the task's return value, in this process only (never stored)


@quick_init
@dataclass(frozen=True)
class Applied:
    first_time: bool  # False: this step's transition had been applied before (redelivery)
    ready: list[Step]  # steps to send: new ones, or the outbox of an earlier application
    ended: RunStatus | None = None  # the run ended with this transition, with this status


@quick_init
@dataclass(frozen=True)
class StepStart:
    """What a store holds for a delivered step, read before it runs (``core/admission.py`` decides)."""

    status: RunStatus
    applied: bool = False  # the step's transition was applied before
    outbox: list[Step] | None = None  # steps that transition made ready, perhaps never sent
    frontier: Step | None = None  # the step as the run's frontier holds it
    retry: tuple[Step, float] | None = None  # its next attempt, recorded (with the delay) but perhaps unsent
    handoff_token: str | None = None  # set while the step waits for a hand-off completion


@dataclass(frozen=True)
class BranchOutcome:
    success: bool
    error_message: str | None
    result: bytes | None
    error_step: Step | None = None  # the branch's first failed step (to run it again on resume)
