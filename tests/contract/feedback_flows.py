"""Workflows that wait for a person, for the contract suite and the Celery tests. Module level, so
Celery workers import every task. Each task logs to the channel ("log") before it asks: on Celery
a parked step runs again from its start, so that line shows how often it ran."""

from __future__ import annotations

import time

from graflow_celery import FeedbackTimeoutError, TaskContext, chain, parallel, task, workflow


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
