"""Each task's state in a run, read off the run's state alone: what a run page shows.

One pure function, the same for every backend: the stores only say which steps are being
executed right now (a step holding its lease on Redis; a step the in-process executor started).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from graflow_celery.core.run_state import RunState

TaskState = Literal["pending", "executing", "completed", "failed", "skipped"]

NOT_ENDED = frozenset({"pending", "running"})


def task_states(node_ids: Iterable[str], state: RunState, executing: set[str]) -> dict[str, TaskState]:
    """The state of every node - ``node_ids`` (the run's graph) and any node the state names -
    given the ids of the steps being executed now (``RunStore.executing()``).

    - executing: one of its steps has begun and not finished; a group whose members are running;
    - failed: it failed the run, or failed its branch of a group (the group may have accepted it);
    - pending: waiting on the frontier (a retry included), or not reached yet;
    - completed: it has a result (a node that runs again in a loop is pending or executing then);
    - skipped: the run ended without running it, or a goto cut off the join it is.
    """
    ended = state.status not in NOT_ENDED
    waiting: dict[str, str] = {}  # node -> "run" if a step of it waits to run, else "skip"
    running: set[str] = set()
    for step in state.frontier.values():
        if step.id in executing:
            running.add(step.node)
        if step.phase != "skip" or step.node not in waiting:
            waiting[step.node] = "skip" if step.phase == "skip" else "run"
    judging = {b.node for b in state.barriers.values() if b.done < len(b.outcomes)}
    failed = _failed(state)
    states: dict[str, TaskState] = {}
    for node in dict.fromkeys([*node_ids, *waiting, *state.results]):
        if node in running:
            states[node] = "executing"
        elif node in failed:
            states[node] = "failed"
        elif not ended and node in judging:
            states[node] = "executing"
        elif not ended and waiting.get(node) == "run":
            states[node] = "pending"
        elif node in state.results:
            states[node] = "completed"
        elif ended or waiting.get(node) == "skip":
            states[node] = "skipped"
        else:
            states[node] = "pending"
    return states


def _failed(state: RunState) -> set[str]:
    """Nodes whose last attempt failed: the run's failed step, and each branch's first failure."""
    failed = {scope.error_step.node for scope in state.scopes.values() if scope.error_step is not None}
    for barrier in state.barriers.values():
        failed.update(o.error_step.node for o in barrier.outcomes
                      if o is not None and o.error_step is not None)
    if state.status == "failed" and state.failed_step is not None:
        failed.add(state.failed_step.node)
    return failed
