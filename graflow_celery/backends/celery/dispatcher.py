"""Ready steps become Celery messages: one message per step, named so Flower shows the task."""

from __future__ import annotations

import reprlib
import secrets
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.worker import state as worker_state

from graflow_celery.backends.celery.store import RedisRunStore
from graflow_celery.core.steps import Step
from graflow_celery.core.task import TaskWrapper

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.engine import WorkflowEngine

STEP_TASK = "graflow_celery.step"
RELAY_TASK = "graflow_celery.send_steps"
FANOUT = 64  # steps one process publishes itself before handing the rest to relay messages


def _batch(producer: Any) -> AbstractContextManager[Any]:
    """kombu >= 5.7 can buffer publishes in one Redis pipeline (one client, one round trip): less
    than half the CPU per message. Older kombu publishes one by one."""
    batch = getattr(producer, "batch", None)
    return batch() if batch is not None else nullcontext()


def message_id(run_id: str, step_id: str) -> str:
    """Deterministic: a redelivered or re-sent step keeps its Celery task id."""
    return f"{run_id}:{step_id}"


def shadow_name(workflow: str, step: Step) -> str:
    suffix = "" if step.phase == "run" else f".{step.phase}"
    return f"{workflow}.{step.node}{suffix}"


class CeleryDispatcher:
    def __init__(self, app: Celery, default_queue: str | None) -> None:
        self.app = app
        self.default_queue = default_queue

    def hand_off(self, context: ExecutionContext, step: Step, task: Any, args: list[Any],
                 kwargs: dict[str, Any]) -> bool:
        """Send a ``from_celery`` task under its own name; link callbacks finish the step. They
        carry a token recorded in the run, so that only this hand-off can complete the step."""
        token = context.store.hand_off(step.id, secrets.token_urlsafe(16))
        step_args = (context.run_id, step.to_dict(), token)
        options = {**task.celery_options}
        options.setdefault("root_id", context.run_id)
        options.setdefault("parent_id", message_id(context.run_id, step.id))
        task.celery_task.apply_async(
            args, kwargs,
            link=self.app.signature("graflow_celery.step_done", args=step_args),
            link_error=self.app.signature("graflow_celery.step_failed", args=step_args),
            **options,
        )
        return True

    def stopping(self) -> bool:
        """The worker this runs in is shutting down (warm shutdown; in a prefork pool this is seen
        by the main process only, so a task in a child finishes as usual)."""
        return bool(worker_state.should_stop or worker_state.should_terminate)

    def launch(self, engine: WorkflowEngine, context: ExecutionContext, steps: list[Step]) -> None:
        if isinstance(context.store, RedisRunStore):  # watched until they start (``sent_index.py``)
            context.store.watch(steps, {s.id: self._countdown(context, s) for s in steps})
        self.send(context, steps)

    def send(self, context: ExecutionContext, steps: list[Step], delay: float = 0.0) -> None:
        """Publish one message per step. Past ``FANOUT`` steps (a wide group), the rest goes out as
        relay messages of ``FANOUT`` steps each, so that several workers publish at once."""
        own, rest = steps[:FANOUT], steps[FANOUT:]
        with self.app.producer_or_acquire() as producer, _batch(producer):
            for start in range(0, len(rest), FANOUT):
                chunk = [s.to_dict() for s in rest[start:start + FANOUT]]
                self._publish(context, RELAY_TASK, (context.run_id, chunk), task_id=None,
                              shadow=f"{context.name}.fanout", queue=self.default_queue, producer=producer)
            store = context.store if isinstance(context.store, RedisRunStore) else None
            for step in own:
                task = self._task(context, step)
                options = dict(task.task_options.message_options()) if task is not None else {}
                if delay > 0:  # a retry's (or a re-sent retry's) own wait
                    options["countdown"] = delay
                if store is not None and options.get("countdown"):  # not lost while it counts down
                    store.sent_with_countdown(step.id, float(options["countdown"]))
                queue = (task.queue if task is not None else None) or self.default_queue
                self._publish(context, STEP_TASK, (context.run_id, step.to_dict()),
                              task_id=message_id(context.run_id, step.id),
                              shadow=shadow_name(context.name, step), queue=queue, producer=producer,
                              argsrepr=args_summary(step, task), **options)

    def _publish(self, context: ExecutionContext, name: str, args: tuple[Any, ...], *,
                 task_id: str | None, shadow: str, queue: str | None, producer: Any,
                 argsrepr: str | None = None, **options: Any) -> None:
        """``route_name``: without a queue of its own, a step is routed by its shown name, so
        ``task_routes = {"order_pipeline.charge": {"queue": "payments"}}`` (or globs) applies."""
        if queue:
            options["queue"] = queue
        self.app.send_task(
            name, args=args, task_id=task_id, shadow=shadow, root_id=context.run_id, route_name=shadow,
            ignore_result=True, add_to_parent=False, producer=producer,
            argsrepr=argsrepr or f"(run {context.run_id}, {len(args[1])} steps)", kwargsrepr="{}",
            **options,
        )

    def _countdown(self, context: ExecutionContext, step: Step) -> float:
        task = self._task(context, step)
        return float(task.task_options.message_options().get("countdown") or 0.0) if task is not None else 0.0

    @staticmethod
    def _task(context: ExecutionContext, step: Step) -> TaskWrapper | None:
        if step.phase != "run":
            return None
        node = context.graph.node(step.node)
        return node if isinstance(node, TaskWrapper) else None


def args_summary(step: Step, task: TaskWrapper | None) -> str:
    """What Flower's args column shows: the task's own fixed inputs, short."""
    parts = [f"{k}={reprlib.repr(v)}" for k, v in (task.bound_kwargs.items() if task is not None else ())]
    if step.cycle:
        parts.append(f"cycle={step.cycle + 1}")
    return f"{step.node}({', '.join(parts)})"
