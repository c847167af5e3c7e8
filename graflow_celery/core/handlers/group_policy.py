"""graflow's ``graflow.core.handlers.group_policy`` path: the group policies of
``core/policies.py`` under graflow's names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graflow_celery.core.policies import (
    AtLeastNGroupPolicy,
    BestEffortGroupPolicy,
    CriticalGroupPolicy,
    GroupExecutionPolicy,
    GroupPolicy,
    StrictGroupPolicy,
    resolve_policy,
)


def resolve_group_policy(policy: str | Mapping[str, Any] | GroupPolicy) -> GroupPolicy:
    """A policy from its name ("strict", "best_effort"), its graflow dict form
    (``{"type": "at_least_n", "min_success": 2}``, ``{"type": "critical", "critical_task_ids": [...]}``)
    or itself."""
    if isinstance(policy, Mapping):
        kind = policy.get("type")
        if kind == "at_least_n":
            return AtLeastNGroupPolicy(policy["min_success"])
        if kind == "critical":
            return CriticalGroupPolicy(policy["critical_task_ids"])
        if kind in ("strict", "best_effort"):
            return resolve_policy(kind)
        raise ValueError(f"unknown group policy {dict(policy)!r}: its type must be strict, best_effort, "
                         "at_least_n or critical")
    return resolve_policy(policy)


def canonicalize_group_policy(policy: str | GroupPolicy) -> str | dict[str, Any]:
    """A built-in policy as plain data (its name, or a dict with its settings); a custom one as
    ``{"type": "__custom__", "policy": policy}``."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, StrictGroupPolicy):
        return "strict"
    if isinstance(policy, BestEffortGroupPolicy):
        return "best_effort"
    if isinstance(policy, AtLeastNGroupPolicy):
        return {"type": "at_least_n", "min_success": policy.min_success}
    if isinstance(policy, CriticalGroupPolicy):
        return {"type": "critical", "critical_task_ids": list(policy.critical_task_ids)}
    if isinstance(policy, GroupPolicy):
        return {"type": "__custom__", "policy": policy}
    raise TypeError(f"not a group policy: {type(policy).__name__}")


__all__ = ["AtLeastNGroupPolicy", "BestEffortGroupPolicy", "CriticalGroupPolicy", "GroupExecutionPolicy",
           "StrictGroupPolicy", "canonicalize_group_policy", "resolve_group_policy"]
