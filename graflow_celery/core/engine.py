"""WorkflowEngine: the one place where workflow decisions are made, on every backend.

For each step it decides, in this order: does the step still run (redelivered? run over? past
max_steps?), what the user function returned or raised, whether to retry, and which control
request wins (cancel > terminate > goto > normal). The decision is a ``Transition``; the run's
store applies it atomically and the backend sends the steps it made ready.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graflow_celery.core import errors_record, events
from graflow_celery.core.admission import Dropped, Resend, admit, difference
from graflow_celery.core.composition import Executable, ParallelGroup
from graflow_celery.core.current import current_graph
from graflow_celery.core.events import RunInfo, StepInfo
from graflow_celery.core.feedback import feedback_id
from graflow_celery.core.feedback_store import Parked, StepParked
from graflow_celery.core.params import build_call
from graflow_celery.core.policies import MemberOutcome, judge
from graflow_celery.core.quick_init import quick_init
from graflow_celery.core.steps import (
    ROOT_SCOPE,
    Applied,
    CheckpointRequest,
    Delivery,
    NewStep,
    Step,
    Transition,
)
from graflow_celery.core.task import TaskWrapper
from graflow_celery.core.task_context import TaskContext
from graflow_celery.errors import (
    GraflowError,
    GraphDefinitionError,
    ParallelGroupError,
    SerializationError,
    WorkflowCancelledError,
)
from graflow_celery.handlers import base as handlers
from graflow_celery.handlers.base import TaskCall, TaskHandler
from graflow_celery.handlers.direct import DirectTaskHandler
from graflow_celery.redact import describe, exception_message

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext

logger = logging.getLogger("graflow_celery.engine")


@quick_init
@dataclass(frozen=True)
class Finished:
    """This delivery applied the step's transition: how it ended (for the backend to report it
    truthfully, e.g. a Celery task state), with the task's return value in this process."""

    kind: str  # completed, failed, skipped, cancelled, launched
    error: dict[str, Any] | None = None
    value: Any = None
    ended: str | None = None  # the run ended with this transition, with this status


@dataclass(frozen=True)
class Interrupted:
    """The task stopped because a shutdown is under way: nothing is applied and no retry is spent;
    the step stays on the frontier, to run again when the run is resumed or redelivered."""

    step: Step
    error: BaseException


@dataclass(frozen=True)
class RetryRequest:
    """The step failed and should run again (same id, ``attempt + 1``) after ``delay`` seconds."""

    step: Step
    delay: float
    error: BaseException


class WorkflowEngine:
    def __init__(self) -> None:
        self._handlers: dict[str, TaskHandler] = {}

    def register_handler(self, handler_type: str, handler: TaskHandler) -> None:
        """Run this engine's tasks tagged ``handler=handler_type`` with ``handler`` (graflow's).
        A Celery worker runs steps with its own engine: there, use ``graflow_celery.
        register_handler``, which every engine of the process falls back on."""
        checked = handlers.checked(handler_type, handler)
        self._handlers[handler_type] = checked

    def handler(self, name: str) -> TaskHandler | None:
        """The handler this engine runs tasks tagged ``handler=name`` with, if it knows one."""
        return self._handlers.get(name) or handlers.registered_handler(name)

    def execute(self, context: ExecutionContext, start_task_id: str | None = None) -> Any:
        """Run the workflow from ``start_task_id`` (or its only root) and return the last result.

        Raises the run's error (``TaskError``, ``ParallelGroupError``, ``WorkflowCancelledError``,
        ...) if it did not complete.
        """
        context.start(self, start_task_id)
        context.wait()
        return context.final_result()

    # --- one step ---------------------------------------------------------------------------------

    def run_step(self, context: ExecutionContext,
                 step: Step) -> Finished | RetryRequest | Interrupted | Parked | Dropped | None:
        """Run one delivered step and apply its transition, if the run's frontier admits it.

        Returns a ``RetryRequest`` when the task failed with retries left (its next attempt is
        recorded; the backend sends it and acknowledges it), ``Parked`` when the task waits for a
        person (nothing applied; ``core/feedback_store.py``), or ``Dropped`` when the message does
        nothing (the backend logs the reason)."""
        admission = admit(step, context.store.begin(step))
        if admission != "run":
            return self._not_run(context, step, admission)
        with context.store.lease(step):  # if this process dies, a live worker sends the step again
            return self._run_admitted(context, step)

    def _run_admitted(self, context: ExecutionContext,
                      step: Step) -> Finished | RetryRequest | Interrupted | Parked | Dropped | None:
        decision = self._decide(context, step)
        if decision is None:  # handed off; complete_handoff() finishes the step
            return None
        if isinstance(decision, Interrupted | Parked):  # stays on the frontier; the lease goes
            return decision
        if isinstance(decision, RetryRequest):
            next_step = context.store.retry(step, decision.delay)
            if next_step is None:  # another delivery of this attempt recorded its outcome first
                return Dropped(f"attempt {step.attempt} of step {step.id} was settled by another delivery")
            if events.wants("step_retrying"):
                events.emit("step_retrying", StepInfo(RunInfo(context.run_id, context.name), step),
                            decision.delay, decision.error)
            return RetryRequest(next_step, decision.delay, decision.error)
        return self._apply(context, decision)

    def complete_handoff(self, context: ExecutionContext, step: Step, token: str | None,
                         value: Any = None, error: dict[str, Any] | None = None) -> Finished | Dropped | None:
        """Finish a step whose task ran elsewhere (``from_celery``): its return value, or its
        failure as an error record (``errors_record.task_failure``). Only a completion carrying the
        token the hand-off was given is accepted."""
        admission = admit(step, context.store.begin(step), handoff_token=token, completion=True)
        if admission != "run":
            return self._not_run(context, step, admission)
        if error is not None:
            decision = self._failed(step, error)
        else:
            try:
                result = context.serializer.dumps(value)
            except GraflowError as exc:
                decision = self._failed(step, errors_record.task_failure(step.node, exc))
            else:
                decision = self._flow(context, step, result, None)
        return self._apply(context, decision)

    def fail_step(self, context: ExecutionContext, step: Step,
                  record: dict[str, Any]) -> Finished | Dropped | None:
        """Fail a step that was stopped from outside its task (a hard time limit, an expired
        message): recorded like any task failure, if the frontier still holds this attempt."""
        admission = admit(step, context.store.begin(step))
        if admission != "run":
            return self._not_run(context, step, admission)
        return self._apply(context, self._failed(step, record))

    def relay(self, context: ExecutionContext, steps: list[Step]) -> list[Dropped]:
        """Send steps another worker handed over (a wide fan-out) - those the frontier holds as
        they are; the rest are dropped."""
        frontier = context.store.frontier([s.id for s in steps])
        dropped: list[Dropped] = []
        admitted = []
        for step in steps:
            entry = frontier.get(step.id)
            problem = "not on the run's frontier" if entry is None else difference(step, entry)
            if problem is None:
                admitted.append(step)
            else:
                dropped.append(Dropped(f"step {step.id}: {problem}", suspicious=True))
        if admitted and context.store.status() == "running":
            context.dispatcher.send(context, admitted)
        return dropped

    def _not_run(self, context: ExecutionContext, step: Step, admission: Resend | Dropped) -> Dropped:
        """The message does not run its step; an earlier delivery's unsent steps go out again."""
        if isinstance(admission, Dropped):
            return admission
        context.dispatcher.send(context, admission.steps, admission.delay)
        context.store.ack_outbox(step.id, retry=admission.retry)
        what = "its next attempt" if admission.retry else f"the {len(admission.steps)} steps it made ready"
        return Dropped(f"step {step.id} was handled by an earlier delivery; sent {what} again")

    def _apply(self, context: ExecutionContext, transition: Transition) -> Finished | None:
        try:
            applied = context.store.apply(transition)
        except (GraphDefinitionError, SerializationError) as exc:  # e.g. a task added at run time that
            # cannot be stored
            transition = self._failed(transition.step, errors_record.task_failure(transition.step.node, exc))
            applied = context.store.apply(transition)
        if applied.first_time and transition.kind == "failed" and transition.error is not None:
            logger.warning("run %s (%s): task %s, step %s failed: %s", context.run_id, context.name,
                           transition.step.node, transition.step.id, transition.error.get("message"))
        if applied.first_time and events.wants("step_finished", "group_judged", "run_finished"):
            self._report(context, transition, applied)
        if transition.checkpoint is not None and applied.first_time:  # after this step, before the next
            self._checkpoint(context, transition.checkpoint)
        if applied.ready:  # an outbox exists only when something was made ready
            context.dispatcher.send(context, applied.ready)
            context.store.ack_outbox(transition.step.id)
        if not applied.first_time:
            return None
        return Finished(transition.kind, transition.error, transition.value, applied.ended)

    def _report(self, context: ExecutionContext, transition: Transition, applied: Applied) -> None:
        """The lifecycle events of a transition applied for the first time."""
        info = StepInfo(RunInfo(context.run_id, context.name), transition.step)
        error = transition.error
        if transition.step.phase == "judge":
            events.emit("group_judged", info, transition.step.node, transition.kind == "completed", error)
        elif transition.kind != "launched":
            exception = error.get("exception") if error else None
            events.emit("step_finished", info, transition.kind, transition.result, error, exception)
        if applied.ended is not None:
            record = errors_record.storable(error) if error else None
            events.emit("run_finished", info.run, applied.ended, record)

    def _checkpoint(self, context: ExecutionContext, request: CheckpointRequest) -> None:
        """A deferred ``ctx.checkpoint()``. Its transition is applied already, so a checkpoint that
        cannot be written is logged as an error rather than failing the run."""
        try:
            path, _ = context.checkpoint(request.path, request.metadata)
        except Exception as exc:
            logger.error("run %s: the checkpoint asked for could not be written: %s", context.run_id,
                         describe(exc))
        else:
            logger.info("run %s: checkpoint written to %s", context.run_id, path)

    def _decide(self, context: ExecutionContext,
                step: Step) -> Transition | RetryRequest | Interrupted | Parked | None:
        if step.number > context.max_steps:
            record = {"kind": "max_steps", "max_steps": context.max_steps, "task_id": step.node,
                      "message": f"max_steps={context.max_steps} reached"}
            return Transition(step, "failed", error=record, run_end="failed")
        if step.phase == "skip":
            transition = Transition(step, "skipped")
            self._skip_successors(context, step.node, transition, set())
            return transition
        node = context.graph.node(step.node)
        if step.phase == "judge":
            assert isinstance(node, ParallelGroup)
            return self._judge(context, step, node)
        if isinstance(node, ParallelGroup):
            return Transition(step, "launched", launch=[m.entry().task_id for m in node.members])
        assert isinstance(node, TaskWrapper)
        return self._run_task(context, step, node)

    # --- a task -----------------------------------------------------------------------------------

    def _run_task(
        self, context: ExecutionContext, step: Step, task: TaskWrapper
    ) -> Transition | RetryRequest | Interrupted | Parked | None:
        max_cycles = task.max_cycles if task.max_cycles is not None else context.default_max_cycles
        tctx = TaskContext(context, step, max_cycles=max_cycles, max_retries=task.max_retries)
        handler = self.handler(task.handler_type)
        if handler is None:
            return self._failed(step, {"kind": "config", "task_id": step.node,
                                       "message": handlers.unknown(task.task_id, task.handler_type)})
        # Reading arguments and handing off talk to the backend: their failures are not the task's.
        args, kwargs = self._arguments(context, step, task, tctx)
        call = None
        if type(handler) is not DirectTaskHandler:  # the default just calls the function: build nothing
            call = TaskCall(task, args, kwargs, step, tctx)
            if handler.hand_off(call, context):  # complete_handoff() finishes the step
                return None
        if events.wants("step_started"):
            events.emit("step_started", StepInfo(RunInfo(context.run_id, context.name), step))
        token = current_graph.set(None)  # tasks made at run time belong to the run, not a definition
        try:
            value = task.func(*args, **kwargs) if call is None else handlers.execute(handler, call, context)
            result = context.serializer.dumps(value)
            iteration = (context.serializer.dumps(tctx.requests.iteration)
                         if tctx.requests.iteration is not None else None)
        except StepParked as parked:  # waits for a person: runs again from its start once answered
            if events.wants("step_parked"):
                events.emit("step_parked", StepInfo(RunInfo(context.run_id, context.name), step),
                            feedback_id(context.run_id, parked.key), parked.wait)
            return Parked(step, parked.key, parked.wait)
        except Exception as exc:  # user code: recorded and passed on, never swallowed
            if tctx.requests.cancel is not None or isinstance(exc, WorkflowCancelledError):
                return self._cancelled(step, tctx.requests.cancel or exception_message(exc))
            if context.dispatcher.stopping():  # most likely it stopped because it was asked to
                return Interrupted(step, exc)
            if not isinstance(exc, GraflowError) and step.attempt < task.max_retries:
                delay = task.retry_policy.delay(step.attempt)
                logger.info("run %s (%s): task %s, step %s failed (%s); retry %d/%d in %.2fs",
                            context.run_id, context.name, step.node, step.id, describe(exc),
                            step.attempt + 1, task.max_retries, delay)
                return RetryRequest(step, delay, exc)
            return self._failed(step, errors_record.task_failure(step.node, exc, step.attempt,
                                                                 task.max_retries))
        finally:
            current_graph.reset(token)
        if tctx.requests.cancel is not None:  # cancel_workflow() whose exception the task caught
            return self._cancelled(step, tctx.requests.cancel)
        transition = self._flow(context, step, result, tctx, iteration)
        transition.checkpoint = tctx.requests.checkpoint
        transition.value = value
        return transition

    def _arguments(
        self, context: ExecutionContext, step: Step, task: TaskWrapper, tctx: TaskContext
    ) -> tuple[list[Any], dict[str, Any]]:
        leading: list[Any] = [tctx] if task.inject_context else []
        if step.data is not None:
            leading.append(context.serializer.loads(step.data))
        return build_call(task.func, leading=leading, bound=task.bound_kwargs,
                          resolve=task.resolve_keyword_args, lookup=context.lookup_params)

    def _flow(
        self, context: ExecutionContext, step: Step, result: bytes, tctx: TaskContext | None,
        iteration: bytes | None = None,
    ) -> Transition:
        """A completed step: apply the winning control request (terminate > goto > normal).
        ``iteration``: the next iteration's data, serialized (None: it runs without any)."""
        requests = tctx.requests if tctx is not None else None
        if requests is not None and requests.terminate is not None:
            return Transition(step, "completed", result=result, run_end="terminated")
        transition = Transition(step, "completed", result=result)
        goto = False
        if requests is not None:
            for executable, explicit_goto in requests.next_tasks:
                is_new = executable.task_id not in context.graph
                if is_new:
                    transition.new_nodes.append(executable)
                transition.enqueue.append(NewStep(executable.entry().task_id))
                goto = goto or explicit_goto or not is_new
            if requests.iterate:
                transition.enqueue.append(NewStep(step.node, data=iteration))
                return transition  # successors wait for the last iteration
        if goto:  # the jump's own targets run; everything else downstream is cut off
            self._skip_successors(context, step.node, transition, {n.node for n in transition.enqueue})
        else:
            self._successors(context, step.node, transition)
        return transition

    def _successors(self, context: ExecutionContext, node_id: str, transition: Transition) -> None:
        for succ in context.graph.successors(node_id):
            preds = context.graph.predecessors(succ)
            if len(preds) == 1:
                transition.enqueue.append(NewStep(succ))
            else:  # a join: fires once every incoming edge has delivered in this wave
                transition.deliver.append(Delivery(succ, node_id, tuple(preds)))

    def _skip_successors(self, context: ExecutionContext, node_id: str, transition: Transition,
                         seen: set[str]) -> None:
        """Successors cut off by a goto do not run; joins downstream get a skip token, so that the
        wave that will never complete does not leave a stale token for the next one."""
        for succ in context.graph.successors(node_id):
            preds = context.graph.predecessors(succ)
            if len(preds) > 1:
                transition.deliver.append(Delivery(succ, node_id, tuple(preds), skip=True))
            elif succ not in seen:
                seen.add(succ)
                self._skip_successors(context, succ, transition, seen)

    def _cancelled(self, step: Step, message: str) -> Transition:
        record = {"kind": "cancelled", "message": message, "task_id": step.node}
        return Transition(step, "cancelled", error=record, run_end="cancelled")

    def _failed(self, step: Step, record: dict[str, Any]) -> Transition:
        if step.scope == ROOT_SCOPE:
            return Transition(step, "failed", error=record, run_end="failed")
        return Transition(step, "failed", error=record)  # in a branch: the group's policy judges

    # --- a group's barrier has fired ---------------------------------------------------------------

    def _judge(self, context: ExecutionContext, step: Step, group: ParallelGroup) -> Transition:
        branches = context.store.branch_outcomes(step.barrier)
        outcomes = [MemberOutcome(member_id, b.success, _member_message(member_id, b.error_message))
                    for member_id, b in zip(group.member_ids, branches, strict=True)]
        members = [context.graph.node(member_id) for member_id in group.member_ids]
        try:
            judge(group.policy, group.task_id, members, outcomes, context)
        except ParallelGroupError as exc:
            if not exc.policy:  # raised graflow's way, without the policy's name
                exc = ParallelGroupError(exc.group_id, group.policy.get_name(), exc.failed_tasks,
                                         exc.successful_tasks, exc.reason)
            return self._failed(step, errors_record.group_failure(exc))
        except Exception as exc:  # user policy code: its failure fails the group, saying so
            reason = f"the policy itself raised {describe(exc)}"
            return self._failed(step, errors_record.group_failure(group.policy.fail(group.task_id, outcomes,
                                                                                    reason)))
        results = {member_id: (context.serializer.loads(b.result) if b.result is not None else None)
                   for member_id, b in zip(group.member_ids, branches, strict=True)}
        return self._flow(context, step, context.serializer.dumps(results), None)


def _member_message(member_id: str, message: str | None) -> str | None:
    """Branch errors read "task: Type: text"; drop the task when it is the member itself."""
    prefix = f"{member_id}: "
    return message[len(prefix):] if message and message.startswith(prefix) else message


def all_nodes(executable: Executable) -> list[tuple[Executable, str | None]]:
    """Every node an executable added at run time brings, with the group that owns it."""
    found: list[tuple[Executable, str | None]] = []

    def walk(ex: Executable, owner: str | None) -> None:
        for node in ex.nodes():
            found.append((node, owner))
            if isinstance(node, ParallelGroup):
                for member in node.members:
                    walk(member, node.task_id)

    walk(executable, None)
    return found
