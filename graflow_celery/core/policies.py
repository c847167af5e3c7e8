"""Group policies: how a parallel group judges its members' outcomes at the barrier.

A policy sees one ``MemberOutcome`` per member and either returns (the group succeeds) or raises
``ParallelGroupError``. Built-in policies are stored as plain data; a user subclass is stored by
import path and rebuilt from ``to_config()`` on the worker that judges the group.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graflow_celery.errors import GraphDefinitionError, ParallelGroupError


@dataclass(frozen=True)
class MemberOutcome:
    task_id: str
    success: bool
    error_message: str | None = None


class GroupPolicy:
    """Subclass and override ``on_group_finished``; raise ``ParallelGroupError`` (``self.fail(...)``)
    to fail the group. Keep policies stateless: on a worker one instance judges the groups of every
    run of the workflow. Define it at module level, and return its constructor's arguments from
    ``to_config()``, so that a worker can rebuild it."""

    name = "custom"

    def validate(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Called before the run starts: raise ``GraphDefinitionError`` if the policy cannot be met."""

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this policy with ``type(self)(**config)``."""
        return {}

    def fail(self, group_id: str, outcomes: Sequence[MemberOutcome], reason: str = "") -> ParallelGroupError:
        return ParallelGroupError(
            group_id,
            self.name,
            failed_tasks=[(o.task_id, o.error_message or "unknown error") for o in outcomes if not o.success],
            successful_tasks=[o.task_id for o in outcomes if o.success],
            reason=reason,
        )


class StrictGroupPolicy(GroupPolicy):
    """Every member must succeed (the default)."""

    name = "strict"

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
        if any(not o.success for o in outcomes):
            raise self.fail(group_id, outcomes)


class BestEffortGroupPolicy(GroupPolicy):
    """The group succeeds whatever its members did; failures are still reported per member."""

    name = "best_effort"

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
        return None


class AtLeastNGroupPolicy(GroupPolicy):
    """At least ``min_success`` members must succeed."""

    name = "at_least_n"

    def __init__(self, min_success: int) -> None:
        if min_success < 1:
            raise GraphDefinitionError(f"AtLeastNGroupPolicy needs min_success >= 1, got {min_success}")
        self.min_success = min_success

    def validate(self, group_id: str, member_ids: Sequence[str]) -> None:
        if self.min_success > len(member_ids):
            raise GraphDefinitionError(
                f"group {group_id!r} has {len(member_ids)} members but its policy needs "
                f"at least {self.min_success} to succeed"
            )

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
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

    def on_group_finished(self, group_id: str, outcomes: Sequence[MemberOutcome]) -> None:
        failed = [o.task_id for o in outcomes if not o.success and o.task_id in self.critical_task_ids]
        if failed:
            raise self.fail(group_id, outcomes, f"critical tasks failed: {failed}")

    def to_config(self) -> dict[str, Any]:
        return {"critical_task_ids": self.critical_task_ids}


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
    """Plain data that names the policy and its arguments (stored with the graph)."""
    cls = type(policy)
    if _BUILT_IN.get(policy.name) is cls:
        return {"type": policy.name, "config": policy.to_config()}
    return {"type": "custom", "path": f"{cls.__module__}:{cls.__qualname__}", "config": policy.to_config()}


def policy_from_spec(spec: dict[str, Any]) -> GroupPolicy:
    if spec["type"] != "custom":
        return _BUILT_IN[spec["type"]](**spec["config"])
    module_name, _, qualname = spec["path"].partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    policy = obj(**spec["config"])
    if not isinstance(policy, GroupPolicy):
        raise GraphDefinitionError(f"{spec['path']} is not a GroupPolicy")
    return policy
