"""Per Celery app: the Redis client, scripts and caches graflow-celery uses to build run contexts."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from celery import Celery, current_app
from celery.local import Proxy

from graflow_celery.backends.celery import run_events
from graflow_celery.backends.celery.channel import RedisChannel
from graflow_celery.backends.celery.dispatcher import CeleryDispatcher
from graflow_celery.backends.celery.feedback_store import RedisFeedback
from graflow_celery.backends.celery.keys import RunKeys, check_run_id
from graflow_celery.backends.celery.leases import LeaseKeeper
from graflow_celery.backends.celery.run_graph import RunGraph
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.celery.sent_index import SentIndex
from graflow_celery.backends.celery.settings import GraflowSettings
from graflow_celery.backends.celery.state_redis import state_client
from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata, save, take
from graflow_celery.core import events
from graflow_celery.core.context import ExecutionContext, RunLimits
from graflow_celery.core.events import RunInfo
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.run_state import reopen
from graflow_celery.errors import ConfigurationError
from graflow_celery.graph_codec import GraphCodec
from graflow_celery.serialization import Serializer, SignedPickleSerializer, TaggedJSONSerializer

_GRAPH_CACHE_SIZE = 256


def resolve_app(app: Celery | None) -> Celery:
    """``app``, else Celery's current app - the app itself, never the ``current_app`` proxy: the
    proxy stays one object while the app it stands for changes (another app made current)."""
    found = current_app if app is None else app
    return found._get_current_object() if isinstance(found, Proxy) else found


def value_codecs(pickle_key: str | None, app: Celery | None = None) -> tuple[Serializer, GraphCodec]:
    """An app's serializer for values - tagged JSON, or signed pickle when ``graflow_pickle_key``
    is set - and the graph codec that goes with it (functions by import path, or pickled;
    ``from_celery`` steps by the task's name in ``app``)."""
    pickler = SignedPickleSerializer(pickle_key) if pickle_key else None
    serializer: Serializer = pickler or TaggedJSONSerializer()
    return serializer, GraphCodec(pickler, serializer, app=app)


class Runtime:
    _by_app: dict[int, Runtime] = {}
    _lock = threading.Lock()

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.settings = GraflowSettings.from_app(app)
        self.client: Any = state_client(self.settings.state_url, self.settings.state_transport_options)
        self.scripts = Scripts(self.client)
        self.serializer, self.codec = value_codecs(self.settings.pickle_key, app)
        self.leases = LeaseKeeper(self.client, self.scripts, self.settings.step_lease)
        grace = self.settings.send_grace
        self.sent = SentIndex(self.scripts, grace) if grace > 0 else None  # step messages not started
        self._dispatchers: dict[str | None, CeleryDispatcher] = {}
        self._graphs: OrderedDict[str, tuple[str, RunGraph, RunLimits, str | None]] = OrderedDict()
        self._decoded: OrderedDict[bytes, tuple[str, TaskGraph]] = OrderedDict()  # by graph sha256

    @classmethod
    def for_app(cls, app: Celery) -> Runtime:
        app = resolve_app(app)
        with cls._lock:
            runtime = cls._by_app.get(id(app))
            if runtime is None or runtime.app is not app:
                runtime = cls._by_app[id(app)] = Runtime(app)
            return runtime

    def dispatcher(self, queue: str | None) -> CeleryDispatcher:
        """Steps of a run go to the run's queue, else the configured default, else Celery's routing."""
        queue = queue or self.settings.default_queue
        found = self._dispatchers.get(queue)
        if found is None:
            found = self._dispatchers[queue] = CeleryDispatcher(self.app, queue)
        return found

    def _store(self, run_id: str) -> RedisRunStore:
        return RedisRunStore(self.client, self.scripts, run_id, self.settings.state_ttl, self.codec,
                             leases=self.leases, sent=self.sent)

    def _channel(self, run_id: str) -> RedisChannel:
        return RedisChannel(self.client, self.scripts, run_id, self.serializer, self.settings.state_ttl)

    def feedback(self, run_id: str) -> RedisFeedback:
        """The run's requests for feedback: a waiting one parks its step."""
        return RedisFeedback(self.client, self.scripts, run_id, self.settings.state_ttl,
                             grace=self.settings.step_lease)

    # --- submitting ----------------------------------------------------------------------------------

    def new_run(self, graph: TaskGraph, name: str, start_node: str | None, limits: RunLimits,
                run_id: str | None = None, queue: str | None = None,
                graph_json: str | None = None) -> ExecutionContext:
        """Store a new run's graph and settings (refusing tasks workers could not import).
        ``graph_json``: the graph already encoded (a checkpoint's)."""
        run_id = ExecutionContext.new_run_id() if run_id is None else check_run_id(run_id)
        if graph_json is None:
            graph_json = self.codec.encode(graph, name)  # raises before anything is stored or sent
        store = self._store(run_id)
        if store.exists():
            raise ConfigurationError(f"a run with id {run_id!r} already exists")
        store.initialize(graph_json, {"name": name, "max_steps": limits.max_steps,
                                      "max_cycles": limits.default_max_cycles,
                                      "serializer": self.serializer.name, "queue": queue or "",
                                      "start_node": start_node or "",  # for a start by id alone
                                      "graph_sha": hashlib.sha256(graph_json.encode()).hexdigest()})
        context = ExecutionContext(graph, store=store, channel=self._channel(run_id),
                                   dispatcher=self.dispatcher(queue), serializer=self.serializer,
                                   limits=limits, start_node=start_node, name=name,
                                   checkpointer=self.save_checkpoint)
        context.feedback = self.feedback(run_id)
        return context

    # --- checkpoints --------------------------------------------------------------------------------

    def take_checkpoint(self, run_id: str, metadata: dict[str, Any] | None = None) -> Checkpoint:
        """The run at one instant, read by one Lua script while the run goes on."""
        context = self.context_for(run_id)
        if context is None:
            raise ConfigurationError(f"run {run_id} does not exist (unknown id, or its state expired)")
        state, graph_json, dynamic, channel = self._store(run_id).snapshot_all()
        graph = json.loads(graph_json or b"{}")
        graph["nodes"].update({node: json.loads(spec) for node, spec in dynamic.items()})
        return take(context, graph, state, channel, metadata=metadata, backend="celery")

    def save_checkpoint(self, context: ExecutionContext, path: str | None,
                        metadata: dict[str, Any] | None) -> tuple[str, CheckpointMetadata]:
        return save(self.take_checkpoint(context.run_id, metadata), path)

    def restore(self, checkpoint: Checkpoint, run_id: str | None = None,
                queue: str | None = None) -> ExecutionContext:
        """A new run holding the checkpoint's state (a failed run reopened); ``start()`` sends its
        frontier. Everything is checked before anything is written."""
        checkpoint = checkpoint.recoded(self.serializer)  # values as this app's workers read them
        graph = checkpoint.decode_graph(self.serializer)  # every function importable here
        state = reopen(checkpoint.state) if checkpoint.state.status == "failed" else checkpoint.state
        context = self.new_run(graph, checkpoint.name, checkpoint.metadata.start_node, checkpoint.limits,
                               run_id=run_id, queue=queue if queue is not None else checkpoint.queue,
                               graph_json=json.dumps(checkpoint.graph))
        context.store.restore(state)
        context.channel.load(checkpoint.channel)
        context.resumed = True
        return context

    # --- on a worker, and re-attaching ----------------------------------------------------------------

    def context_for(self, run_id: str) -> ExecutionContext | None:
        """The context of an existing run, or None if it is unknown or expired."""
        cached = self._graphs.get(run_id)
        if cached is None:
            cached = self._load(run_id)
            if cached is None:
                return None
            with self._lock:  # a threads-pool worker shares this cache between threads
                self._graphs[run_id] = cached
                while len(self._graphs) > _GRAPH_CACHE_SIZE:
                    self._graphs.popitem(last=False)
        name, graph, limits, queue = cached
        context = ExecutionContext(graph, store=self._store(run_id), channel=self._channel(run_id),  # type: ignore[arg-type]
                                   dispatcher=self.dispatcher(queue), serializer=self.serializer,
                                   limits=limits, name=name, checkpointer=self.save_checkpoint)
        context.feedback = self.feedback(run_id)
        return context

    def _load(self, run_id: str) -> tuple[str, RunGraph, RunLimits, str | None] | None:
        keys = RunKeys(run_id)
        fields = ["max_steps", "max_cycles", "serializer", "queue", "graph_sha"]
        max_steps, max_cycles, serializer, queue, sha = self.client.hmget(keys.meta, fields)
        if max_steps is None:
            return None
        if serializer and serializer.decode() != self.serializer.name:
            raise ConfigurationError(
                f"run {run_id} uses the {serializer.decode()!r} serializer but this process is set up "
                f"for {self.serializer.name!r} (check graflow_pickle_key)"
            )
        decoded = self._decoded.get(sha) if sha else None  # runs of one workflow share a definition
        if decoded is None:
            raw_graph = self.client.get(keys.graph)
            if raw_graph is None:
                return None
            decoded = self.codec.decode(raw_graph)
            with self._lock:
                if not sha:
                    sha = hashlib.sha256(raw_graph).hexdigest().encode()
                self._decoded[sha] = decoded
                while len(self._decoded) > _GRAPH_CACHE_SIZE:
                    self._decoded.popitem(last=False)
        name, static = decoded
        limits = RunLimits(int(max_steps), int(max_cycles))
        run_graph = RunGraph(static, self.client, keys, self.codec)
        return name, run_graph, limits, (queue.decode() if queue else None)

    def fail_run(self, run_id: str, record: dict[str, Any]) -> bool:
        """End a run that cannot go on (this process cannot load it) with an error that says why."""
        ended = self._store(run_id).fail(record)
        if ended:
            events.emit("run_finished", RunInfo(run_id, self.workflow_name(run_id)), "failed", record)
            run_events.run_finished(self.app, run_id, "failed", record)
        return ended

    def workflow_name(self, run_id: str) -> str:
        cached = self._graphs.get(run_id)
        if cached is not None:
            return cached[0]
        raw = self.client.hget(RunKeys(run_id).meta, "name")
        return raw.decode() if raw else "workflow"

    def describe(self, run_id: str) -> dict[str, Any]:
        return json.loads(json.dumps(self._store(run_id).meta()))
