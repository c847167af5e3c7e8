"""Group policies: how a parallel group judges its members' outcomes at the barrier.

A policy either returns (the group succeeds) or raises ``ParallelGroupError``. It is written in
one of two forms, told apart by how many arguments its ``on_group_finished`` requires:

- ours: ``on_group_finished(group_id, outcomes)``, one ``MemberOutcome`` per member;
- graflow's: ``on_group_finished(group_id, tasks, results, context)``, ``results`` mapping each
  member's id to a ``TaskResult`` - a policy written for graflow runs unchanged.

Built-in policies are stored as plain data; a user subclass is stored by import path and rebuilt
on the worker that judges the group from ``to_config()`` - or, for a policy that does not define
it (graflow's), from its attributes.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graflow_celery.errors import GraphDefinitionError, ParallelGroupError


@dataclass(frozen=True)
class MemberOutcome:
    task_id: str
    success: bool
    error_message: str | None = None


@dataclass
class TaskResult:
    """How one member of a group ended, as graflow's policies receive it. ``error`` is not
    available here (the exception may have been raised in another process): ``error_message``
    says what it was; ``duration`` and ``timestamp`` are not measured (0.0)."""

    task_id: str
    success: bool
    error: Exception | None = None
    error_message: str | None = None
    duration: float = 0.0
    timestamp: float = 0.0


def _as_outcomes(outcomes: Sequence[Any], results: Mapping[str, TaskResult] | None) -> list[MemberOutcome]:
    """A built-in policy called graflow's way (``tasks, results``) judges the same outcomes."""
    if results is None:
        return list(outcomes)
    return [MemberOutcome(r.task_id, r.success, r.error_message) for r in results.values()]


class GroupPolicy:
    """Subclass and override ``on_group_finished``; raise ``ParallelGroupError`` (``self.fail(...)``)
    to fail the group. Keep policies stateless: on a worker one instance judges the groups of every
    run of the workflow. Define it at module level, and return its constructor's arguments from
    ``to_config()`` (or keep only plain attributes), so that a worker can rebuild it.
    ``GroupExecutionPolicy`` (graflow's name) is this class."""

    name = "custom"

    def get_name(self) -> str:
        """The policy's name in errors (graflow's method): ``name``, or the class's name."""
        return type(self).__name__ if self.name == "custom" else self.name

    def validate(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Called before the run starts: raise ``GraphDefinitionError`` if the policy cannot be met."""

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this policy with ``type(self)(**config)``."""
        return {}

    # graflow's helpers for policies written its way
    def _validate_group_results(self, group_id: str, tasks: Sequence[Any],
                                results: Mapping[str, TaskResult]) -> None:
        """Raise ``ParallelGroupError`` unless ``results`` has exactly one entry per task."""
        expected, actual = {t.task_id for t in tasks}, set(results)
        if expected != actual:
            raise ParallelGroupError(
                f"results do not match the members: missing {sorted(expected - actual)}, "
                f"unexpected {sorted(actual - expected)}",
                group_id=group_id, failed_tasks=[], successful_tasks=sorted(actual))

    def _partition_group_results(
        self, results: Mapping[str, TaskResult]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """(ids of the members that succeeded, [(id, error message)] of those that failed)."""
        succeeded = [task_id for task_id, r in results.items() if r.success]
        failed = [(task_id, r.error_message or "unknown error") for task_id, r in results.items()
                  if not r.success]
        return succeeded, failed

    def fail(self, group_id: str, outcomes: Sequence[MemberOutcome], reason: str = "") -> ParallelGroupError:
        return ParallelGroupError(
            group_id,
            self.name,
            failed_tasks=[(o.task_id, o.error_message or "unknown error") for o in outcomes if not o.success],
            successful_tasks=[o.task_id for o in outcomes if o.success],
            reason=reason,
        )


# The built-in policies also take graflow's arguments (a subclass may call them that way).


class StrictGroupPolicy(GroupPolicy):
    """Every member must succeed (the default)."""

    name = "strict"

    def on_group_finished(self, group_id: str, outcomes: Sequence[Any],
                          results: Mapping[str, TaskResult] | None = None, context: Any = None) -> None:
        outcomes = _as_outcomes(outcomes, results)
        if any(not o.success for o in outcomes):
            raise self.fail(group_id, outcomes)


class BestEffortGroupPolicy(GroupPolicy):
    """The group succeeds whatever its members did; failures are still reported per member."""

    name = "best_effort"

    def on_group_finished(self, group_id: str, outcomes: Sequence[Any],
                          results: Mapping[str, TaskResult] | None = None, context: Any = None) -> None:
        return None


class AtLeastNGroupPolicy(GroupPolicy):
    """At least ``min_success`` members must succeed."""

    name = "at_least_n"

    def __init__(self, min_success: int) -> None:
        if min_success < 0:  # 0, as graflow allows: the group always succeeds
            raise GraphDefinitionError(f"AtLeastNGroupPolicy needs min_success >= 0, got {min_success}")
        self.min_success = min_success

    def validate(self, group_id: str, member_ids: Sequence[str]) -> None:
        if self.min_success > len(member_ids):
            raise GraphDefinitionError(
                f"group {group_id!r} has {len(member_ids)} members but its policy needs "
                f"at least {self.min_success} to succeed"
            )

    def on_group_finished(self, group_id: str, outcomes: Sequence[Any],
                          results: Mapping[str, TaskResult] | None = None, context: Any = None) -> None:
        outcomes = _as_outcomes(outcomes, results)
        succeeded = sum(o.success for o in outcomes)
        if succeeded < self.min_success:
            raise self.fail(group_id, outcomes, f"{succeeded} succeeded, {self.min_success} needed")

    def to_config(self) -> dict[str, Any]:
        return {"min_success": self.min_success}


class CriticalGroupPolicy(GroupPolicy):
    """The named members must succeed; the others may fail."""

    name = "critical"

    def __init__(self, critical_task_ids: Iterable[str]) -> None:
        self.critical_task_ids = list(critical_task_ids)
        if not self.critical_task_ids:
            raise GraphDefinitionError("CriticalGroupPolicy needs at least one critical task id")

    def validate(self, group_id: str, member_ids: Sequence[str]) -> None:
        unknown = [tid for tid in self.critical_task_ids if tid not in member_ids]
        if unknown:
            raise GraphDefinitionError(
                f"group {group_id!r} policy names critical tasks {unknown} that are not members "
                f"(members: {list(member_ids)})"
            )

    def on_group_finished(self, group_id: str, outcomes: Sequence[Any],
                          results: Mapping[str, TaskResult] | None = None, context: Any = None) -> None:
        outcomes = _as_outcomes(outcomes, results)
        failed = [o.task_id for o in outcomes if not o.success and o.task_id in self.critical_task_ids]
        if failed:
            raise self.fail(group_id, outcomes, f"critical tasks failed: {failed}")

    def to_config(self) -> dict[str, Any]:
        return {"critical_task_ids": self.critical_task_ids}


GroupExecutionPolicy = GroupPolicy  # graflow's name


def takes_graflow_arguments(policy: GroupPolicy) -> bool:
    """Whether the policy's ``on_group_finished`` requires graflow's ``(group_id, tasks, results,
    context)`` - three or more arguments without defaults - rather than ``(group_id, outcomes)``."""
    try:
        params = inspect.signature(policy.on_group_finished).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional and p.default is p.empty for p in params) >= 3


def judge(policy: GroupPolicy, group_id: str, members: Sequence[Any], outcomes: Sequence[MemberOutcome],
          context: Any) -> None:
    """Ask ``policy`` about a group whose barrier fired, in the form the policy is written in.
    ``members``: the group's member nodes; ``context``: the run's ``ExecutionContext``."""
    if takes_graflow_arguments(policy):
        results = {o.task_id: TaskResult(o.task_id, o.success, error_message=o.error_message)
                   for o in outcomes}
        policy.on_group_finished(group_id, list(members), results, context)  # type: ignore[call-arg]
    else:
        policy.on_group_finished(group_id, outcomes)


_BUILT_IN: dict[str, type[GroupPolicy]] = {
    "strict": StrictGroupPolicy,
    "best_effort": BestEffortGroupPolicy,
    "at_least_n": AtLeastNGroupPolicy,
    "critical": CriticalGroupPolicy,
}


def resolve_policy(policy: str | GroupPolicy | Any) -> GroupPolicy:
    if isinstance(policy, GroupPolicy):
        return policy
    if isinstance(policy, str):
        cls = _BUILT_IN.get(policy.lower())
        if cls is None or policy.lower() in ("at_least_n", "critical"):
            raise GraphDefinitionError(
                f"unknown group policy {policy!r}; use 'strict', 'best_effort', "
                "AtLeastNGroupPolicy(n), CriticalGroupPolicy([...]) or a GroupPolicy subclass"
            )
        return cls()
    raise GraphDefinitionError(f"a group policy must be a name or a GroupPolicy, got {type(policy).__name__}")


def policy_to_spec(policy: GroupPolicy) -> dict[str, Any]:
    """Plain data that names the policy and its arguments (stored with the graph). A custom policy
    without ``to_config()`` of its own (graflow's way) is carried by its attributes, ``state``,
    which the graph codec writes with the run's serializer."""
    cls = type(policy)
    if _BUILT_IN.get(policy.name) is cls:
        return {"type": policy.name, "config": policy.to_config()}
    spec = {"type": "custom", "path": f"{cls.__module__}:{cls.__qualname__}", "config": policy.to_config()}
    state = getattr(policy, "__dict__", None)
    if cls.to_config is GroupPolicy.to_config and state:
        spec["state"] = dict(state)
    return spec


def policy_from_spec(spec: dict[str, Any]) -> GroupPolicy:
    if spec["type"] != "custom":
        return _BUILT_IN[spec["type"]](**spec["config"])
    module_name, _, qualname = spec["path"].partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, GroupPolicy)):
        raise GraphDefinitionError(f"{spec['path']} is not a GroupPolicy")
    if "state" in spec:  # the attributes it had, without running its constructor again
        policy = obj.__new__(obj)
        policy.__dict__.update(spec["state"])
        return policy
    built: GroupPolicy = obj(**spec["config"])
    return built
