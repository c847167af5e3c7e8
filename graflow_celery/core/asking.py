"""What a task calls to wait for a person: graflow's ``request_feedback`` and its shortcuts, part of
the task's context (``TaskContext``).

Each call is the n-th request of this execution of the step (``core/feedback.py`` names it), so
a step that runs again from its start - parked and sent again once answered - finds the answers
its earlier requests got, in the same order. Code before a request therefore runs again, as in
any redelivered task: keep it idempotent. A request's ``handler`` is told once all the same: of the
request by the run that makes it, of its outcome by the run that first finds it settled
(``core/feedback_handler.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graflow_celery.core import events
from graflow_celery.core.events import RunInfo, StepInfo
from graflow_celery.core.feedback import FeedbackResponse, FeedbackType, feedback_id, request_key
from graflow_celery.core.feedback_handler import FeedbackCallbacks, tell
from graflow_celery.core.feedback_record import TIMED_OUT, WAITING, FeedbackRecord
from graflow_celery.core.feedback_store import StepParked
from graflow_celery.errors import ConfigurationError, FeedbackTimeoutError

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext
    from graflow_celery.core.steps import Step

DEFAULT_TIMEOUT = 180.0  # graflow's: three minutes


class AsksForFeedback:
    """The feedback half of ``TaskContext``."""

    execution_context: ExecutionContext
    step: Step
    task_id: str
    _feedback_calls = 0  # requests this execution of the step has made so far

    def request_feedback(
        self,
        feedback_type: str | FeedbackType,
        prompt: str,
        options: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        channel_key: str | None = None,
        write_to_channel: bool = False,
        handler: FeedbackCallbacks | None = None,
    ) -> FeedbackResponse:
        """Ask a person and return the answer. On Celery the step parks - no worker waits - and runs
        again from its start once answered; in process the task waits (up to ``timeout`` seconds;
        None: as long as the run lives). ``FeedbackTimeoutError`` if the deadline passes first.
        ``write_to_channel``: the answer is also written to the channel under ``channel_key`` (and
        the whole response under ``<channel_key>.__feedback_response__``). ``handler``: a
        ``FeedbackHandler`` (or any object with its methods), told once each that the request was
        made, answered, or timed out."""
        kind = _feedback_type(feedback_type)
        context = self.execution_context
        store = context.feedback
        if store is None:
            raise ConfigurationError("this run's backend keeps no feedback requests")
        made = FeedbackRecord.new(task=self.task_id, step=self.step.id, kind=kind, prompt=prompt,
                                  options=options, metadata=metadata, timeout=timeout,
                                  channel_key=channel_key, write_to_channel=write_to_channel,
                                  workflow=context.name)
        n = self._feedback_calls
        self._feedback_calls = n + 1
        key = request_key(self.step.id, n)
        asked = store.ask(self.step, key, made)
        found = asked.record
        if found.type != made.type:
            raise ConfigurationError(
                f"request {n} of step {self.step.id} ({self.task_id}) was made as {found.type!r} by an "
                f"earlier run of the step, and is {made.type!r} now: a task must make its requests in "
                "the same order each time it runs")
        if asked.made:
            tell(handler, "on_request_created", found.to_request(context.run_id, key))
        if found.status == WAITING:
            if store.parks:
                wait = None if found.deadline is None else max(0.0, (found.deadline - asked.now) / 1000)
                raise StepParked(key, wait)
            asked = store.wait(key, context.dispatcher.stopping)
            found = asked.record
        if asked.first_read and events.wants("feedback_received"):
            events.emit("feedback_received", StepInfo(RunInfo(context.run_id, context.name), self.step),
                        feedback_id(context.run_id, key), found.status)
        if found.status == TIMED_OUT:
            if asked.first_read:
                tell(handler, "on_request_timeout", found.to_request(context.run_id, key))
            raise FeedbackTimeoutError(feedback_id(context.run_id, key), found.timeout)
        response = found.to_response(context.run_id, key)
        if asked.first_read:  # before anything that may fail: the mark is set, no later run tells
            tell(handler, "on_response_received", found.to_request(context.run_id, key), response)
        if found.write_to_channel and found.channel_key:
            channel = context.get_channel()
            channel.set(found.channel_key, response.value)
            channel.set(f"{found.channel_key}.__feedback_response__", response.to_dict())
        return response

    # graflow's shortcuts take no handler; here they do too (keyword only)

    def request_approval(self, prompt: str, metadata: dict[str, Any] | None = None,
                         timeout: float | None = DEFAULT_TIMEOUT, channel_key: str | None = None,
                         write_to_channel: bool = False, *, handler: FeedbackCallbacks | None = None) -> bool:
        """True if approved, False if rejected."""
        response = self.request_feedback(FeedbackType.APPROVAL, prompt, metadata=metadata, timeout=timeout,
                                         channel_key=channel_key, write_to_channel=write_to_channel,
                                         handler=handler)
        return bool(response.approved)

    def request_text_input(self, prompt: str, metadata: dict[str, Any] | None = None,
                           timeout: float | None = DEFAULT_TIMEOUT, channel_key: str | None = None,
                           write_to_channel: bool = False, *,
                           handler: FeedbackCallbacks | None = None) -> str:
        return self.request_feedback(FeedbackType.TEXT, prompt, metadata=metadata, timeout=timeout,
                                     channel_key=channel_key, write_to_channel=write_to_channel,
                                     handler=handler).text or ""

    def request_selection(self, prompt: str, options: list[str], metadata: dict[str, Any] | None = None,
                          timeout: float | None = DEFAULT_TIMEOUT, channel_key: str | None = None,
                          write_to_channel: bool = False, *, handler: FeedbackCallbacks | None = None) -> str:
        """One of ``options``."""
        return self.request_feedback(FeedbackType.SELECTION, prompt, options, metadata=metadata,
                                     timeout=timeout, channel_key=channel_key,
                                     write_to_channel=write_to_channel, handler=handler).selected or ""


def _feedback_type(value: str | FeedbackType) -> FeedbackType:
    if isinstance(value, FeedbackType):
        return value
    try:
        return FeedbackType(value)
    except ValueError:
        raise ConfigurationError(f"unknown feedback type {value!r}; known: "
                                 f"{[t.value for t in FeedbackType]}") from None
