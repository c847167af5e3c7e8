"""A checkpoint's values: which serializer wrote them, and moving them from one to another.

On Redis, and in portable mode, a run's values are bytes of its serializer and a checkpoint
embeds them as they are. An in-process run holds Python objects: its checkpoint writes each with
tagged JSON and, where JSON refuses (a DataFrame, a custom class), with cloudpickle - as graflow
pickles its checkpoints - marked where it stands as ``{"__t": "pickle", "type": ..., "v": base64}``
and in the document as ``"values": "json+pickle"``. Loading pickle runs code, so only a process
that trusts the file loads those: the memory backend does (as graflow does); the Celery backend
refuses them unless signed pickle is configured, and then signs them with the app's key as they
are written to Redis. A checkpoint whose values all fit JSON says ``"values": "json"``: it
resumes anywhere.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

from graflow_celery.channels.base import ChannelEntry
from graflow_celery.core.run_state import BarrierState, RunState
from graflow_celery.core.steps import BranchOutcome, Step
from graflow_celery.errors import CheckpointError, SerializationError
from graflow_celery.serialization import (
    InProcessValues,
    Serializer,
    SignedPickleSerializer,
    TaggedJSONSerializer,
)
from graflow_celery.serialization.in_process import in_process

JSON = "json"
JSON_OR_PICKLE = "json+pickle"
_PICKLED = b'{"__t":"pickle",'  # how JSONOrPickle writes a pickled value (compact, "__t" first)


class JSONOrPickle:
    """Tagged JSON, or cloudpickle (base64, marked) for a value JSON refuses. ``pickled`` tells
    whether it pickled anything, i.e. whether what it wrote is plain tagged JSON."""

    name = JSON_OR_PICKLE

    def __init__(self) -> None:
        self._json = TaggedJSONSerializer()
        self.pickled = False

    def dumps(self, value: Any) -> bytes:
        try:
            return self._json.dumps(value)
        except SerializationError as refused:
            kind = type(value)
            try:
                payload = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise SerializationError(
                    f"cannot write a value of type {kind.__module__}.{kind.__qualname__} in a checkpoint: "
                    f"neither tagged JSON nor pickle can carry it ({type(exc).__name__}: {exc})") from refused
            self.pickled = True
            return json.dumps({"__t": "pickle", "type": f"{kind.__module__}.{kind.__qualname__}",
                               "v": base64.b64encode(payload).decode("ascii")},
                              separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        if data.startswith(_PICKLED):
            return pickle.loads(base64.b64decode(json.loads(data)["v"]))
        return self._json.loads(data)


def pickled_type(raw: bytes) -> str | None:
    """The type a value written by ``JSONOrPickle`` pickled, or None if it is tagged JSON."""
    if not raw.startswith(_PICKLED):
        return None
    return str(json.loads(raw).get("type", "?"))


def writer(values: Serializer) -> Serializer:
    """What a checkpoint of a run whose values are ``values`` writes them with."""
    if not in_process(values):
        return values  # bytes already: the document embeds them
    assert isinstance(values, InProcessValues)
    return values.wire if isinstance(values.wire, SignedPickleSerializer) else JSONOrPickle()


def written_as(serializer: Serializer) -> str:
    """The document's ``values`` after ``serializer`` wrote them."""
    if isinstance(serializer, JSONOrPickle) and not serializer.pickled:
        return JSON
    return serializer.name


def reader(values: str, serializer: Serializer) -> Serializer:
    """What reads a document whose values are ``values``, in a process whose run serializer is
    ``serializer`` (its key reads signed pickle)."""
    wire = serializer.wire if isinstance(serializer, InProcessValues) else serializer
    if values == wire.name:
        return wire
    if values == JSON:
        return TaggedJSONSerializer()
    if values == JSON_OR_PICKLE:
        return JSONOrPickle()
    raise CheckpointError(f"the checkpoint's values are {values!r} but this process uses the {wire.name!r} "
                          "serializer (check the pickle key)")


def recode(state: RunState, channel: dict[str, ChannelEntry], source: str, target: Serializer,
           ) -> tuple[RunState, dict[str, ChannelEntry]]:
    """A checkpoint's state and channel, written in ``source`` (a document's ``values``), as the
    run serializer ``target`` stores them. ``CheckpointError`` names the first value it cannot
    move - a value pickled in process, for a store that refuses unsigned pickle, included."""
    read = reader(source, target)
    if read is target:
        return state, channel
    convert = _converter(source, read, target)
    return _map_state(state, convert), _map_channel(channel, convert)


def encode(state: RunState, channel: dict[str, ChannelEntry], values: Serializer, target: Serializer,
           ) -> tuple[RunState, dict[str, ChannelEntry]]:
    """An in-process run's state and channel (Python objects, kept by ``values``) written by
    ``target``; ``SerializationError`` names the first value it cannot write."""
    def convert(raw: Any, where: str) -> Any:
        try:
            return target.dumps(values.loads(raw))
        except SerializationError as exc:
            raise SerializationError(f"{where}: {exc}") from exc

    return _map_state(state, convert), _map_channel(channel, convert)


def recode_graph(graph: dict[str, Any], source: str, target: Serializer) -> dict[str, Any]:
    """A checkpoint's graph spec with the tasks' bound arguments in ``target`` (never in process:
    a graph spec is JSON)."""
    read = reader(source, target)
    if read is target:
        return graph
    convert = _converter(source, read, target)
    nodes = {}
    for node_id, spec in graph["nodes"].items():
        if "bound" in spec:
            raw = convert(base64.b64decode(spec["bound"]), f"the bound arguments of task {node_id!r}")
            spec = {**spec, "bound": base64.b64encode(raw).decode("ascii")}
        nodes[node_id] = spec
    return {**graph, "nodes": nodes}


def _converter(source: str, read: Serializer, target: Serializer) -> Callable[[Any, str], Any]:
    trusted = in_process(target) or isinstance(target, SignedPickleSerializer)

    def convert(raw: Any, where: str) -> Any:
        if source == JSON_OR_PICKLE and not trusted:
            kind = pickled_type(raw)
            if kind is not None:
                raise CheckpointError(
                    f"{where} is a {kind} that only pickle could write (the checkpoint was taken in "
                    f"process, values {JSON_OR_PICKLE!r}), and the {target.name!r} serializer does not "
                    "load unsigned pickle: resume it in process (CheckpointManager.resume_from_checkpoint), "
                    "or on Celery with signed pickle (graflow_pickle_key), whose key then signs it")
        try:
            return target.dumps(read.loads(raw))
        except SerializationError as exc:
            raise CheckpointError(f"{where}: {exc}") from exc

    return convert


def _map_state(state: RunState, convert: Callable[[Any, str], Any]) -> RunState:
    def value(raw: Any, where: str) -> Any:
        return None if raw is None else convert(raw, where)

    def with_data(s: Step) -> Step:
        if s.data is None:
            return s
        return dataclasses.replace(s, data=convert(s.data, f"the next_iteration data of task {s.node!r}"))

    def step(s: Step | None) -> Step | None:
        return None if s is None else with_data(s)

    def outcome(o: BranchOutcome | None, gid: str, i: int) -> BranchOutcome | None:
        if o is None:
            return None
        return dataclasses.replace(o, result=value(o.result, f"the result of branch {i} of group step {gid}"),
                                   error_step=step(o.error_step))

    return dataclasses.replace(
        state,
        frontier={sid: with_data(s) for sid, s in state.frontier.items()},
        results={node: convert(raw, f"the result of task {node!r}") for node, raw in state.results.items()},
        last_result=value(state.last_result, "the run's last result"),
        scopes={sid: dataclasses.replace(sc, error_step=step(sc.error_step),
                                         last_result=value(sc.last_result, f"the result of scope {sid!r}"))
                for sid, sc in state.scopes.items()},
        barriers={gid: BarrierState(b.node, b.scope, [outcome(o, gid, i) for i, o in enumerate(b.outcomes)])
                  for gid, b in state.barriers.items()},
        failed_step=step(state.failed_step),
    )


def _map_channel(channel: dict[str, ChannelEntry],
                 convert: Callable[[Any, str], Any]) -> dict[str, ChannelEntry]:
    out = {}
    for key, entry in channel.items():
        where = f"channel key {key!r}"
        value = [convert(item, where) for item in entry.value] if entry.items else convert(entry.value, where)
        out[key] = ChannelEntry(value, entry.ttl, items=entry.items)
    return out
