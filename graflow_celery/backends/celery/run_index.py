"""The newest runs of an app: what ``recent_runs()``, the Django run list and ``graflow-celery
runs`` show.

One sorted set per app (``keys.run_index_key``): run id -> when it was submitted. Bounded and
expiring: adding a run also drops the entries past the newest ``graflow_run_index_size`` and
those older than the state TTL, in the same MULTI, and the key itself expires a state TTL after
the last run was added. The index only says where to look: a run's name and status are read from
its own state when it is listed, and a run whose state has expired is left out (and dropped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from graflow_celery.backends.celery.keys import RUN_ID_PATTERN, RunKeys, run_index_key

_PAGE = 100  # run ids read from the index per round trip while expired ones are skipped


@dataclass(frozen=True)
class RunSummary:
    """One line of a run list."""

    id: str
    workflow: str
    status: str
    submitted_at: datetime  # UTC

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "workflow": self.workflow, "status": self.status,
                "submitted_at": self.submitted_at}


class RunIndex:
    def __init__(self, client: Any, app_name: str, size: int, ttl: int) -> None:
        self._r = client
        self.key = run_index_key(app_name)
        self.size = size
        self.ttl = ttl

    def add(self, run_id: str) -> None:
        """A run was stored (submitted, or restored from a checkpoint)."""
        if self.size == 0:
            return
        now = time.time()
        pipe = self._r.pipeline(transaction=True)
        pipe.zadd(self.key, {run_id: now})
        pipe.zremrangebyscore(self.key, "-inf", f"({now - self.ttl}")  # their state has expired
        pipe.zremrangebyrank(self.key, 0, -(self.size + 1))
        pipe.expire(self.key, self.ttl)
        pipe.execute()

    def recent(self, limit: int) -> list[RunSummary]:
        """The newest ``limit`` runs whose state still exists, newest first."""
        found: list[RunSummary] = []
        gone: list[bytes] = []
        start = 0
        while len(found) < limit:
            page = self._r.zrevrange(self.key, start, start + max(limit, _PAGE) - 1, withscores=True)
            if not page:
                break
            start += len(page)
            runs = []
            for raw, score in page:
                if RUN_ID_PATTERN.fullmatch(raw.decode(errors="replace")):
                    runs.append((raw, score))
                else:
                    gone.append(raw)  # not a run id: add() did not write it
            pipe = self._r.pipeline(transaction=False)
            for raw, _ in runs:
                pipe.hmget(RunKeys(raw.decode()).meta, ["name", "status", "created"])
            for (raw, score), (name, status, created) in zip(runs, pipe.execute(), strict=True):
                if status is None:
                    gone.append(raw)
                    continue
                at = float(created) if created else score
                found.append(RunSummary(raw.decode(), name.decode() if name else "workflow", status.decode(),
                                        datetime.fromtimestamp(at, UTC)))
        if gone:
            self._r.zrem(self.key, *gone)
        return self._waiting_read_as_such(found[:limit])

    def _waiting_read_as_such(self, found: list[RunSummary]) -> list[RunSummary]:
        """A running run whose every frontier step waits for a person reads "waiting", as its
        handle says (``RunHandle.status``)."""
        running = [i for i, summary in enumerate(found) if summary.status == "running"]
        if not running:
            return found
        pipe = self._r.pipeline(transaction=False)
        for i in running:
            keys = RunKeys(found[i].id)
            pipe.hkeys(keys.frontier)
            pipe.hkeys(keys.feedback_waiting)
        read = pipe.execute()
        for n, i in enumerate(running):
            frontier, waiting = set(read[2 * n]), set(read[2 * n + 1])
            if frontier and frontier <= waiting:
                found[i] = replace(found[i], status="waiting")
        return found
