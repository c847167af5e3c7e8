"""The graph as data: tasks named by import path, so workers run only code they already have.

``encode`` refuses (before anything is sent) tasks a worker could not import - closures, lambdas,
``__main__`` code - and lists them all, unless signed pickle is enabled for functions. Bound
arguments are written by the run's serializer (base64 in the JSON spec).
"""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

from celery import current_app

from graflow_celery.celery_task_step import CeleryTaskStep
from graflow_celery.core.composition import Executable, ParallelGroup
from graflow_celery.core.engine import all_nodes
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.policies import policy_from_spec, policy_to_spec
from graflow_celery.core.retry import RetryPolicy
from graflow_celery.core.task import TaskWrapper
from graflow_celery.core.task_options import TaskOptions
from graflow_celery.errors import GraflowError, GraphDefinitionError, NotImportableError
from graflow_celery.redact import describe
from graflow_celery.serialization import Serializer, SignedPickleSerializer, TaggedJSONSerializer


class _MemberRef(Executable):
    """A group member on a worker: only its entry node's id is needed."""

    def __init__(self, task_id: str) -> None:
        self._id = task_id

    @property
    def task_id(self) -> str:
        return self._id


def graph_shape(raw: str | bytes, added: dict[str, bytes] | None = None) -> TaskGraph:
    """A stored graph's shape - ids, edges, groups and their members - without importing any
    task's code: each task is a placeholder, which is all a picture needs. ``added``: the specs
    of nodes added at run time (they have no edges)."""
    data = json.loads(raw)
    specs = {**data["nodes"], **{node: json.loads(spec) for node, spec in (added or {}).items()}}
    graph = TaskGraph()
    for node_id, spec in specs.items():
        if spec.get("type") == "group":
            members = [_MemberRef(m) for m in spec["members"]]
            graph.add_node(ParallelGroup(members, name=node_id, register=False))
        else:
            graph.add_node(_MemberRef(node_id))
    for src, dst in data["edges"]:
        graph.add_edge(src, dst)
    for node_id, owner in data["owners"].items():
        graph.set_owner(node_id, owner)
    return graph


def import_path(func: Any) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def why_not_importable(func: Any, allow_main: bool = False) -> str | None:
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    if not module or not qualname:
        return f"{func!r} has no module or qualified name"
    if "<lambda>" in qualname:
        return "a lambda"
    if "<locals>" in qualname:
        return f"defined inside a function ({qualname})"
    if module == "__main__" and not allow_main:
        return "defined in __main__ (the script being run); move it to an importable module"
    try:
        found = resolve(import_path(func))
    except Exception as exc:
        return f"{import_path(func)} cannot be imported: {describe(exc)}"
    if found is not func:
        return f"{import_path(func)} names a different object"
    return None


def resolve(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj.func if isinstance(obj, TaskWrapper) else obj


class GraphCodec:
    def __init__(self, pickler: SignedPickleSerializer | None = None,
                 values: Serializer | None = None, allow_main: bool = False, app: Any = None) -> None:
        self._pickler = pickler  # functions that cannot be imported, when enabled
        self._values = values or pickler or TaggedJSONSerializer()  # the run's serializer: bound arguments
        # A checkpoint of an in-process run may name functions of the script that runs it
        # ("__main__:f"): the same script can resume it; a Celery worker could not import them.
        self._allow_main = allow_main
        self._app = app  # where from_celery steps' tasks are found by name (else the current app)
        # A graph often runs one function in many nodes: look each up once.
        self._importable: dict[Any, str | None] = {}  # function -> why it is not importable
        self._resolved: dict[str, Any] = {}  # import path -> function

    # --- encoding ----------------------------------------------------------------------------------

    def encode(self, graph: TaskGraph, name: str) -> str:
        specs, problems = {}, []
        for node_id, node in graph.nodes.items():
            try:
                specs[node_id] = self.node_spec(node)
            except NotImportableError as exc:
                problems.append((node_id, str(exc.__cause__ or exc)))
        if problems:
            raise NotImportableError([p[0] for p in problems], [p[1] for p in problems])
        edges = [[src, dst] for src in graph.nodes for dst in graph.successors(src)]
        owners = {n: graph.owner(n) for n in graph.nodes if graph.owner(n) is not None}
        return json.dumps({"name": name, "nodes": specs, "edges": edges, "owners": owners})

    def node_spec(self, node: Executable) -> dict[str, Any]:
        if isinstance(node, ParallelGroup):
            policy = policy_to_spec(node.policy)
            try:  # a worker rebuilds the policy from this spec: check now that it can
                policy_from_spec(policy)
            except Exception as exc:
                raise GraphDefinitionError(
                    f"group {node.task_id!r}: its policy {type(node.policy).__qualname__} cannot be rebuilt "
                    f"on a worker as {policy} ({describe(exc)}); define it at module level "
                    "and make to_config() return its constructor's arguments") from exc
            if "state" in policy:  # a policy's attributes (graflow's way), as values travel
                try:
                    policy["state"] = base64.b64encode(self._values.dumps(policy["state"])).decode("ascii")
                except GraflowError as exc:
                    raise GraphDefinitionError(
                        f"group {node.task_id!r}: the attributes of its policy "
                        f"{type(node.policy).__qualname__} cannot be stored ({describe(exc)}); give it "
                        "a to_config() that returns its constructor's arguments") from exc
            # A member's id is its entry node's id (a chain is named after its first part).
            return {"type": "group", "members": [m.entry().task_id for m in node.members],
                    "policy": policy}
        if not isinstance(node, TaskWrapper):
            raise GraphDefinitionError(f"cannot store a node of type {type(node).__name__}")
        spec: dict[str, Any] = {
            "type": "task",
            "inject_context": node.inject_context,
            "resolve_keyword_args": node.resolve_keyword_args,
            "retry_policy": node.retry_policy.to_dict(),
            "max_cycles": node.max_cycles,
            "options": node.task_options.to_dict(),
        }
        if node.bound_kwargs:
            spec["bound"] = base64.b64encode(node.dump_bound(self._values)).decode("ascii")
        if isinstance(node, CeleryTaskStep):
            spec["celery_task"] = node.celery_task.name
            spec["celery_options"] = node.celery_options
            return spec
        if node.func not in self._importable:
            self._importable[node.func] = why_not_importable(node.func, self._allow_main)
        problem = self._importable[node.func]
        if problem is None:
            spec["func"] = import_path(node.func)
        elif self._pickler is not None:
            spec["func_pickle"] = self._pickler.dumps(node.func).hex()
        else:
            err = NotImportableError([node.task_id], [problem])
            err.__cause__ = ValueError(problem)
            raise err
        return spec

    def encode_new(self, executables: list[Executable]) -> dict[str, str]:
        """Specs of nodes a task added at run time (with the group that owns each)."""
        out = {}
        for node, _owner in [pair for ex in executables for pair in all_nodes(ex)]:
            out[node.task_id] = json.dumps(self.node_spec(node))
        return out

    # --- decoding ----------------------------------------------------------------------------------

    def decode(self, raw: str | bytes) -> tuple[str, TaskGraph]:
        data = json.loads(raw)
        graph = TaskGraph()
        for node_id, spec in data["nodes"].items():
            try:
                graph.add_node(self.node_from_spec(node_id, spec))
            except GraflowError:
                raise
            except Exception as exc:  # a module or attribute this process does not have
                where = spec.get("func") or spec.get("celery_task") or spec.get("type")
                raise GraphDefinitionError(
                    f"task {node_id!r} ({where}) cannot be loaded here: {type(exc).__name__}: {exc}") from exc
        for src, dst in data["edges"]:
            graph.add_edge(src, dst)
        for node_id, owner in data["owners"].items():
            graph.set_owner(node_id, owner)
        return data["name"], graph

    def node_from_spec(self, node_id: str, spec: dict[str, Any]) -> Executable:
        if spec["type"] == "group":
            group = ParallelGroup([_MemberRef(m) for m in spec["members"]], name=node_id, register=False)
            policy = dict(spec["policy"])
            if "state" in policy:
                policy["state"] = self._values.loads(base64.b64decode(policy["state"]))
            group.policy = policy_from_spec(policy)
            return group
        if "celery_task" in spec:
            return CeleryTaskStep((self._app or current_app).tasks[spec["celery_task"]], node_id,
                                  options=spec["celery_options"],
                                  bound_kwargs=self._bound(spec), register=False)
        if "func" in spec:
            func = self._resolved.get(spec["func"])
            if func is None:
                func = self._resolved[spec["func"]] = resolve(spec["func"])
        elif self._pickler is not None:
            func = self._pickler.loads(bytes.fromhex(spec["func_pickle"]))
        else:
            raise GraphDefinitionError(
                f"task {node_id!r} was stored as signed pickle, but this worker has no pickle key")
        return TaskWrapper(
            node_id, func,
            inject_context=spec["inject_context"],
            resolve_keyword_args=spec["resolve_keyword_args"],
            retry_policy=RetryPolicy(**spec["retry_policy"]),
            max_cycles=spec["max_cycles"],
            task_options=TaskOptions(**spec.get("options", {"queue": spec.get("queue")})),
            bound_kwargs=self._bound(spec),
            register=False,
        )

    def _bound(self, spec: dict[str, Any]) -> dict[str, Any]:
        if "bound" not in spec:
            return {}
        bound: dict[str, Any] = self._values.loads(base64.b64decode(spec["bound"]))
        return bound
