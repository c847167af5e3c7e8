"""Checkpoints: a run at one instant as one versioned, readable, portable JSON document.

A checkpoint holds the graph (functions by import path, tasks added at run time included), the
run's state (``core.run_state.RunState``: results, frontier, join tokens, barriers, scopes,
attempts, cycles), the channel with each key's remaining lifetime, the run's limits and the
user's metadata. Values stay in the run's serializer: with tagged JSON (the default) they are
embedded as JSON a person can read; with signed pickle, as base64 of the signed bytes. An
in-process run's Python objects are written as JSON, or pickled where JSON cannot carry them
(``checkpoint_values.py``: ``"values": "json+pickle"``, which only a trusting process loads).

A checkpoint taken on one backend resumes on the other. Loading checks the whole document before
anything is written, so a damaged or foreign file is a ``CheckpointError``, never half a run.

Requests for feedback travel in it too ("feedback": each with its answer, if it has one). A
document that holds any is version 2, so that an older graflow-celery refuses it rather than
lose them; one without is version 1, as before. A waiting request can be answered in the
document itself (``respond``): the resumed step finds the answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graflow_celery.channels.base import ChannelEntry
from graflow_celery.checkpoint_values import JSON_OR_PICKLE, reader, recode, recode_graph
from graflow_celery.core.context import RunLimits
from graflow_celery.core.feedback import FeedbackRequest, FeedbackResponse
from graflow_celery.core.feedback_record import FeedbackRecord, by_newest
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_state import BarrierState, RunState, ScopeState
from graflow_celery.core.steps import BranchOutcome, Step
from graflow_celery.errors import CheckpointError, FeedbackNotWaitingError, GraflowError
from graflow_celery.graph_codec import GraphCodec
from graflow_celery.serialization import InProcessValues, SignedPickleSerializer

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.serialization import Serializer

FORMAT = "graflow-celery.checkpoint"
VERSION = 1
FEEDBACK_VERSION = 2  # a document with requests for feedback
READABLE = (VERSION, FEEDBACK_VERSION)


@dataclass(frozen=True)
class CheckpointMetadata:
    """What graflow's ``CheckpointMetadata`` says of a checkpoint (same fields)."""

    checkpoint_id: str
    session_id: str  # the id of the run it was taken from
    created_at: str  # ISO 8601, UTC
    steps: int  # steps applied when it was taken
    start_node: str | None
    backend: dict[str, str]
    user_metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointMetadata:
        return cls(str(data["checkpoint_id"]), str(data["session_id"]), str(data["created_at"]),
                   int(data["steps"]), data.get("start_node"), dict(data.get("backend", {})),
                   dict(data.get("user_metadata", {})))


@dataclass
class Checkpoint:
    metadata: CheckpointMetadata
    name: str  # the workflow's name
    limits: RunLimits
    values: str  # the serializer the values are in: "json", "signed-pickle", or "json+pickle"
    graph: dict[str, Any]  # graph_codec's form: name, nodes, edges, owners
    state: RunState
    channel: dict[str, ChannelEntry]
    queue: str | None = None

    # --- as a file -----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the document (atomically: a reader never sees half a file); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        # Compact (the C encoder; ``python -m json.tool`` prints it for a person).
        temporary.write_text(json.dumps(self.to_document(), separators=(",", ":"), ensure_ascii=False))
        temporary.replace(target)
        return str(target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Checkpoint:
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
        return cls.from_document(document, source=str(path))

    # --- as data ---------------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        v = _Values(self.values)
        s = self.state
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": FEEDBACK_VERSION if s.feedback else VERSION,
            "metadata": self.metadata.to_dict(),
            "workflow": {"name": self.name, "queue": self.queue, "max_steps": self.limits.max_steps,
                         "max_cycles": self.limits.default_max_cycles},
            "values": self.values,
            "graph": self.graph,
            "run": {
                "status": s.status,
                "error": s.error,
                "seq": s.seq,
                "applied": sorted(s.applied, key=int),
                "frontier": [step.to_dict() for step in s.frontier.values()],
                "failed_step": s.failed_step.to_dict() if s.failed_step else None,
                "results": {node: v.out(raw) for node, raw in s.results.items()},
                "last_result": v.out(s.last_result),
                "tokens": s.tokens,
                "cycle_counts": s.runs,
                "scopes": {sid: {"inflight": sc.inflight, "last_result": v.out(sc.last_result),
                                 "error": sc.error, "error_step": _step_out(sc.error_step)}
                           for sid, sc in s.scopes.items()},
                "barriers": {gid: {"node": b.node, "scope": b.scope,
                                   "outcomes": [None if o is None else {
                                       "success": o.success, "error": o.error_message,
                                       "result": v.out(o.result), "error_step": _step_out(o.error_step)}
                                       for o in b.outcomes]}
                             for gid, b in s.barriers.items()},
            },
            "channel": {key: {"ttl": e.ttl, **({"items": [v.out(i) for i in e.value]}
                                                if e.items else {"value": v.out(e.value)})}
                        for key, e in self.channel.items()},
        }
        if s.feedback:
            document["run"]["feedback"] = {key: r.to_dict() for key, r in s.feedback.items()}
        return document

    @classmethod
    def from_document(cls, document: Any, source: str = "checkpoint") -> Checkpoint:
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointError(f"{source} is not a graflow-celery checkpoint")
        if document.get("version") not in READABLE:
            raise CheckpointError(f"{source} is a version {document.get('version')!r} checkpoint; this "
                                  f"graflow-celery reads versions {', '.join(map(str, READABLE))}")
        try:
            return cls._parse(document)
        except (KeyError, TypeError, ValueError, AttributeError, GraflowError) as exc:
            raise CheckpointError(f"{source} is damaged: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def _parse(cls, d: dict[str, Any]) -> Checkpoint:
        v = _Values(d["values"])
        run = d["run"]
        state = RunState(
            status=run["status"], error=run["error"], seq=int(run["seq"]),
            applied={str(a) for a in run["applied"]},
            frontier={s.id: s for s in (Step.from_dict(raw) for raw in run["frontier"])},
            results={str(node): v.into(raw) for node, raw in run["results"].items()},
            last_result=v.maybe(run["last_result"]),
            tokens={str(n): {str(src): _tokens(q) for src, q in edges.items()}
                    for n, edges in run["tokens"].items()},
            scopes={str(sid): ScopeState(int(sc["inflight"]), v.maybe(sc["last_result"]), sc["error"],
                                         _step_in(sc["error_step"]))
                    for sid, sc in run["scopes"].items()},
            barriers={str(gid): BarrierState(str(b["node"]), str(b["scope"]), [
                None if o is None else BranchOutcome(bool(o["success"]), o["error"], v.maybe(o["result"]),
                                                     _step_in(o["error_step"]))
                for o in b["outcomes"]]) for gid, b in run["barriers"].items()},
            failed_step=_step_in(run["failed_step"]),
            runs={str(node): int(n) for node, n in run.get("cycle_counts", {}).items()},
            feedback={str(key): FeedbackRecord.from_dict(r) for key, r in run.get("feedback", {}).items()},
        )
        if state.status not in ("running", "completed", "failed", "cancelled"):
            raise ValueError(f"unknown run status {state.status!r}")
        channel = {str(key): ChannelEntry(
            [v.into(i) for i in e["items"]] if "items" in e else v.into(e["value"]),
            None if e["ttl"] is None else float(e["ttl"]), items="items" in e)
            for key, e in d["channel"].items()}
        workflow = d["workflow"]
        graph = d["graph"]
        if not isinstance(graph.get("nodes"), dict) or not isinstance(graph.get("edges"), list):
            raise ValueError("the graph has no nodes or edges")
        return cls(CheckpointMetadata.from_dict(d["metadata"]), str(workflow["name"]),
                   RunLimits(int(workflow["max_steps"]), int(workflow["max_cycles"])), d["values"], graph,
                   state, channel, workflow.get("queue"))

    # --- requests for feedback ------------------------------------------------------------------------------

    def pending_feedback(self) -> list[FeedbackRequest]:
        """The requests the run was waiting for, newest first (ids of the run it was taken from)."""
        run_id = self.metadata.session_id
        return [r.to_request(run_id, key) for key, r in by_newest(self.state.feedback)]

    def respond(self, feedback_id: str, value: Any, *, by: str | None = None,
                reason: str | None = None) -> FeedbackResponse:
        """Answer a waiting request in this checkpoint (``save`` it afterwards): the step runs again
        when the checkpoint is resumed, and finds the answer. Checked as ``run.respond`` checks it;
        an answer after the request's deadline is refused."""
        run_id = self.metadata.session_id
        prefix = f"{run_id}:"
        key = feedback_id[len(prefix):] if isinstance(feedback_id, str) and feedback_id.startswith(prefix) \
            else None
        found = self.state.feedback.get(key) if key is not None else None
        if key is None or found is None:
            raise FeedbackNotWaitingError(str(feedback_id), "unknown",
                                          f"checkpoint {self.metadata.checkpoint_id} has no such request")
        now = int(time.time() * 1000)
        refused = "ended" if self.state.status != "running" else found.refusal(now)
        if refused is not None:
            raise FeedbackNotWaitingError(feedback_id, refused, f"it is {refused} in this checkpoint")
        answer = found.to_request(run_id, key).check_answer(value)
        found.take({"value": answer, "by": by, "reason": reason}, now)
        return found.to_response(run_id, key)

    # --- the graph ---------------------------------------------------------------------------------------

    def decode_graph(self, serializer: Serializer) -> TaskGraph:
        """The graph with its functions imported (or unpickled, with the key), before any run is
        written: a module a process lacks is an error here. ``serializer`` is the new run's."""
        values = reader(self.values, serializer)
        wire = serializer.wire if isinstance(serializer, InProcessValues) else serializer
        pickler = wire if isinstance(wire, SignedPickleSerializer) else None
        try:
            return GraphCodec(pickler, values).decode(json.dumps(self.graph))[1]
        except Exception as exc:
            raise CheckpointError(f"cannot rebuild the checkpoint's graph: {exc}") from exc

    def recoded(self, serializer: Serializer) -> Checkpoint:
        """This checkpoint with its values as ``serializer`` writes them - for a store of bytes (a
        Celery app's); ``CheckpointError`` if one cannot be moved (pickled in process, say)."""
        if self.values == serializer.name:
            return self
        state, channel = recode(self.state, self.channel, self.values, serializer)
        return replace(self, values=serializer.name, state=state, channel=channel,
                       graph=recode_graph(self.graph, self.values, serializer))


def save(checkpoint: Checkpoint, path: str | None) -> tuple[str, CheckpointMetadata]:
    """Write a checkpoint (by default to ``checkpoints/<run id>/<checkpoint id>.json``)."""
    info = checkpoint.metadata
    target = path or os.path.join("checkpoints", info.session_id, f"{info.checkpoint_id}.json")
    return checkpoint.save(target), info


def take(context: ExecutionContext, graph: dict[str, Any], state: RunState,
         channel: dict[str, ChannelEntry], *, metadata: dict[str, Any] | None = None,
         backend: str, values: str | None = None) -> Checkpoint:
    """A ``Checkpoint`` of a run from a snapshot of it (taken atomically by its store)."""
    created = dt.datetime.now(dt.UTC)
    info = CheckpointMetadata(
        checkpoint_id=f"{context.run_id}-{state.seq}-{int(time.time() * 1000)}",
        session_id=context.run_id, created_at=created.isoformat(), steps=len(state.applied),
        start_node=context.start_node, backend={"name": backend}, user_metadata=dict(metadata or {}))
    return Checkpoint(info, context.name, context.limits, values or context.serializer.name, graph, state,
                      channel)


def encode_graph(graph: TaskGraph, name: str, serializer: Serializer) -> dict[str, Any]:
    pickler = serializer if isinstance(serializer, SignedPickleSerializer) else None
    encoded: dict[str, Any] = json.loads(GraphCodec(pickler, serializer, allow_main=True).encode(graph, name))
    return encoded


class _Values:
    """Serialized values in a document: embedded JSON for tagged JSON (pickled values in it
    marked), base64 for signed pickle."""

    def __init__(self, serializer: str) -> None:
        if serializer not in ("json", JSON_OR_PICKLE, "signed-pickle"):
            raise CheckpointError(f"unknown value format {serializer!r}")
        self.embedded = serializer != "signed-pickle"

    def out(self, raw: bytes | None) -> Any:
        if raw is None:
            return None
        return json.loads(raw) if self.embedded else base64.b64encode(raw).decode("ascii")

    def into(self, value: Any) -> bytes:
        if self.embedded:
            return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()
        return base64.b64decode(value, validate=True)

    def maybe(self, value: Any) -> bytes | None:
        return None if value is None else self.into(value)


def _step_out(step: Step | None) -> dict[str, Any] | None:
    return step.to_dict() if step is not None else None


def _step_in(raw: Any) -> Step | None:
    return Step.from_dict(raw) if raw is not None else None


def _tokens(queue: Any) -> str:
    if not isinstance(queue, str) or set(queue) - {"0", "1"}:
        raise ValueError(f"join tokens must be a string of 0s and 1s, got {queue!r}")
    return queue
