"""A run's graph on a worker: the stored definition plus nodes tasks added at run time."""

from __future__ import annotations

import json

import redis

from graflow_celery.backends.celery.keys import RunKeys
from graflow_celery.core.composition import Executable
from graflow_celery.core.graph import TaskGraph
from graflow_celery.errors import GraphDefinitionError
from graflow_celery.graph_codec import GraphCodec


class RunGraph:
    """Reads like a ``TaskGraph``; nodes added at run time are fetched once and cached (they never
    change after being stored)."""

    def __init__(self, static: TaskGraph, client: redis.Redis, keys: RunKeys, codec: GraphCodec) -> None:
        self._static = static
        self._r = client
        self._keys = keys
        self._codec = codec
        self._dynamic: dict[str, Executable] = {}

    def node(self, node_id: str) -> Executable:
        found = self._static.nodes.get(node_id) or self._dynamic.get(node_id)
        if found is not None:
            return found
        raw = self._r.hget(self._keys.dynamic, node_id)
        if raw is None:
            raise GraphDefinitionError(f"no task {node_id!r} in run {self._keys.run_id}")
        spec = json.loads(raw)
        node = self._codec.node_from_spec(node_id, spec)
        self._dynamic[node_id] = node
        return node

    def __contains__(self, node_id: object) -> bool:
        if node_id in self._static.nodes or node_id in self._dynamic:
            return True
        return bool(self._r.hexists(self._keys.dynamic, str(node_id)))

    get_node = node  # graflow's names, as on a TaskGraph

    def has_node(self, node_id: str) -> bool:
        return node_id in self

    # Reading the definition (nodes added at run time have no edges of their own):

    @property
    def nodes(self) -> dict[str, Executable]:
        return self._static.nodes

    @property
    def edges(self) -> list[tuple[str, str]]:
        return self._static.edges

    def get_start_nodes(self) -> list[str]:
        return self._static.start_nodes()

    def get_parallel_group_members(self, group_id: str) -> list[str]:
        return self._static.get_parallel_group_members(group_id)

    def detect_cycles(self) -> list[list[str]]:
        return self._static.detect_cycles()

    def successors(self, node_id: str) -> list[str]:
        return self._static.successors(node_id)

    def predecessors(self, node_id: str) -> list[str]:
        return self._static.predecessors(node_id)

    def owner(self, node_id: str) -> str | None:
        return self._static.owner(node_id)

    def resolve_start(self, start_node: str | None) -> str:
        return self._static.resolve_start(start_node)

    def validate(self) -> None:
        self._static.validate()
