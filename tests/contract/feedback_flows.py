"""Workflows that wait for a person, for the contract suite and the Celery tests. Module level, so
Celery workers import every task. Each task logs to the channel ("log") before it asks: on Celery
a parked step runs again from its start, so that line shows how often it ran."""

from __future__ import annotations

import time

from graflow_celery import FeedbackTimeoutError, TaskContext, chain, parallel, task, workflow
from graflow_celery.hitl.handler import FeedbackHandler
from graflow_celery.hitl.types import FeedbackRequest, FeedbackResponse


def _timeout(ctx: TaskContext) -> float | None:
    return ctx.get_channel().get("timeout", None)


@task(inject_context=True)
def ask_refund(ctx: TaskContext) -> str:
    ctx.get_channel().append("log", "ask_refund")
    ok = ctx.request_approval("Refund 120 EUR?", metadata={"amount": 120}, timeout=_timeout(ctx),
                              channel_key="refund_ok", write_to_channel=True)
    return "refunded" if ok else "kept"


@task(inject_context=True)
def report(ctx: TaskContext, ask_refund: str) -> str:
    return f"{ask_refund}, refund_ok={ctx.get_channel().get('refund_ok')}"


def approval():
    with workflow("fb_approval") as wf:
        ask_refund >> report
    return wf


@task(inject_context=True)
def two_questions(ctx: TaskContext) -> list[object]:
    ctx.get_channel().append("log", "two_questions")
    ok = ctx.request_approval("Ship it?", timeout=None)
    note = ctx.request_text_input("Why?", timeout=None)
    return [ok, note]


def two_in_a_row():
    with workflow("fb_two") as wf:
        wf.add(two_questions)
    return wf


@task(inject_context=True)
def pick_colour(ctx: TaskContext) -> str:
    return ctx.request_selection("Colour?", ["red", "green"], timeout=None)


@task(inject_context=True)
def pick_size(ctx: TaskContext) -> str:
    return ctx.request_selection("Size?", ["S", "M", "L"], timeout=None)


@task
def combine(pick_colour: str, pick_size: str) -> str:
    return f"{pick_size} {pick_colour}"


def group_members():
    with workflow("fb_group") as wf:
        parallel(pick_colour, pick_size) >> combine
    return wf


@task(inject_context=True)
def ask_or_default(ctx: TaskContext) -> str:
    try:
        return ctx.request_text_input("Name?", timeout=_timeout(ctx))
    except FeedbackTimeoutError:
        return "anonymous"


def with_default():
    with workflow("fb_default") as wf:
        wf.add(ask_or_default)
    return wf


@task(inject_context=True)
def must_answer(ctx: TaskContext) -> str:
    return ctx.request_text_input("Name?", timeout=_timeout(ctx))


def without_default():
    with workflow("fb_no_default") as wf:
        wf.add(must_answer)
    return wf


@task(inject_context=True)
def hold_until_go(ctx: TaskContext) -> str:
    deadline = time.monotonic() + 30
    while not ctx.get_channel().get("go", False) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "went"


def asking_beside_a_busy_member():
    with workflow("fb_beside_busy") as wf:
        parallel(pick_colour, hold_until_go)
    return wf


@task
def step(n: int = 0) -> int:
    return n


def ordinary(length: int = 20):
    """A run of ``length`` steps that never waits."""
    with workflow("fb_ordinary") as wf:
        chain(*[step.with_id(f"s{i}") for i in range(length)])
    return wf


@task(inject_context=True)
def approve_only(ctx: TaskContext) -> bool:
    return ctx.request_approval("Go?", timeout=None)


def one_approval():
    """One step that waits for an approval (``bench/feedback_park.py``)."""
    with workflow("fb_one_approval") as wf:
        wf.add(approve_only)
    return wf


# --- handlers (``handler=``): each writes what it is told to the channel ("told"), visible from the
# test process whichever process runs the task --------------------------------------------------


class Recorder:
    """A handler by duck typing: no base class, the three methods."""

    def __init__(self, ctx: TaskContext) -> None:
        self.channel = ctx.get_channel()

    def on_request_created(self, request: FeedbackRequest) -> None:
        self.channel.append("told", f"created {request.feedback_id} {request.status}")

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        self.channel.append("told", f"answered {response.feedback_id} {response.value!r} "
                                    f"by {response.responded_by} {request.status}")

    def on_request_timeout(self, request: FeedbackRequest) -> None:
        self.channel.append("told", f"timed out {request.feedback_id} {request.status}")


class Broken(Recorder):
    """Writes what it is told, then raises."""

    def on_request_created(self, request: FeedbackRequest) -> None:
        super().on_request_created(request)
        raise RuntimeError("the chat service is down")

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        super().on_response_received(request, response)
        raise RuntimeError("the chat service is down")

    def on_request_timeout(self, request: FeedbackRequest) -> None:
        super().on_request_timeout(request)
        raise RuntimeError("the chat service is down")


@task(inject_context=True)
def approve_told(ctx: TaskContext) -> bool:
    ctx.get_channel().append("log", "approve_told")
    return ctx.request_approval("Go?", timeout=None, handler=Recorder(ctx))


def told_once():
    with workflow("fb_told_once") as wf:
        wf.add(approve_told)
    return wf


@task(inject_context=True)
def two_told(ctx: TaskContext) -> list[object]:
    ctx.get_channel().append("log", "two_told")
    ok = ctx.request_feedback("approval", "Ship it?", timeout=None, handler=Recorder(ctx)).approved
    note = ctx.request_text_input("Why?", timeout=None, handler=Recorder(ctx))
    return [ok, note]


def told_two_in_a_row():
    with workflow("fb_told_two") as wf:
        wf.add(two_told)
    return wf


def _name_then_go_on(ctx: TaskContext, handler: Recorder) -> list[object]:
    ctx.get_channel().append("log", "name_then_go_on")
    try:
        name = ctx.request_text_input("Name?", timeout=_timeout(ctx), handler=handler)
    except FeedbackTimeoutError:
        name = "anonymous"
    return [name, ctx.request_approval("Go on?", timeout=None, handler=handler)]


@task(inject_context=True)
def name_told(ctx: TaskContext) -> list[object]:
    return _name_then_go_on(ctx, Recorder(ctx))


def told_timeout():
    with workflow("fb_told_timeout") as wf:
        wf.add(name_told)
    return wf


@task(inject_context=True)
def name_told_broken(ctx: TaskContext) -> list[object]:
    return _name_then_go_on(ctx, Broken(ctx))


def told_broken():
    with workflow("fb_told_broken") as wf:
        wf.add(name_told_broken)
    return wf


class SelectionNotice(FeedbackHandler):
    """As a graflow program writes one: a ``FeedbackHandler`` subclass overriding one callback."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        self.ctx.get_channel().append("told", f"{request.prompt} {response.selected}")


@task(inject_context=True)
def pick_told(ctx: TaskContext) -> str:
    response = ctx.request_feedback(feedback_type="selection", prompt="Mode?", options=["fast", "thorough"],
                                    metadata={"from": "graflow"}, timeout=None, channel_key="mode",
                                    write_to_channel=True, handler=SelectionNotice(ctx))
    return response.selected or ""


def told_graflow_style():
    with workflow("fb_told_graflow_style") as wf:
        wf.add(pick_told)
    return wf


@task(inject_context=True)
def ask_then_hold(ctx: TaskContext) -> str:
    """Asks, then - answered - runs on until the channel says "go": to be seen running again."""
    answer = ctx.request_approval("Go on?", timeout=None)
    deadline = time.monotonic() + 30
    while not ctx.get_channel().get("go", False) and time.monotonic() < deadline:
        time.sleep(0.02)
    return f"approved={answer}"


def asks_then_holds():
    with workflow("fb_ask_then_hold") as wf:
        wf.add(ask_then_hold)
    return wf
