"""Workflows of the lost-message tests (``tests/celery/test_lost_messages.py``), imported by the
workers of ``tests.support.lease_app``. Each task appends its name to the channel's "marks", so a
test sees how often each user function ran."""

from __future__ import annotations

import time

from graflow_celery import TaskContext, parallel, task, workflow


@task(inject_context=True)
def lost_a(ctx: TaskContext) -> str:
    ctx.get_channel().append("marks", "a")
    return "a"


@task(inject_context=True)
def lost_b(ctx: TaskContext, lost_a: str) -> str:
    ctx.get_channel().append("marks", "b")
    return lost_a + "b"


@task(inject_context=True)
def lost_c(ctx: TaskContext) -> str:
    ctx.get_channel().append("marks", "c")
    return "c"


def two_steps():
    with workflow("lost_two_steps") as wf:
        lost_a >> lost_b
    return wf


def fan():
    with workflow("lost_fan") as wf:
        lost_a >> parallel(lost_b, lost_c)
    return wf


@task(inject_context=True)
def hog(ctx: TaskContext) -> str:
    ctx.get_channel().append("marks", "hog")
    time.sleep(ctx.get_channel().get("seconds"))
    return "done"


def hogging():
    with workflow("lost_hog") as wf:
        wf.add(hog)
    return wf


@task(inject_context=True, countdown=4)
def lost_later(ctx: TaskContext, lost_a: str) -> str:
    ctx.get_channel().append("marks", "later")
    return lost_a + "later"


def counting_down():
    """Its second step is sent with a countdown longer than the tests' grace (and the first step
    of ``first_counts_down`` too): each counts down, it is not lost."""
    with workflow("lost_counting_down") as wf:
        lost_a >> lost_later
    return wf


@task(inject_context=True, countdown=4)
def lost_first(ctx: TaskContext) -> str:
    ctx.get_channel().append("marks", "first")
    return "first"


def first_counts_down():
    with workflow("lost_first_counts_down") as wf:
        wf.add(lost_first)
    return wf
