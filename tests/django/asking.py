"""Workflows for the approvals page's tests: ``questions`` asks one question of each kind the shop
does not ask (it asks approvals), each in a member of a parallel group; ``hurry`` asks with a
deadline of a second, and goes on with a default; ``guarded`` asks two questions naming the
permissions they need oddly: a list of two, and a number. The shop's worker and web process
import this module by its path, as any workflow module (their PYTHONPATH holds the repository)."""

from __future__ import annotations

from graflow_celery import FeedbackTimeoutError, TaskContext, parallel, task, workflow

CARRIERS = ["post", "courier", "pickup"]
TAGS = ["gift", "fragile", "express"]


@task(inject_context=True)
def pick_carrier(ctx: TaskContext) -> str:
    return ctx.request_selection("Which carrier for the bulky parcel?", CARRIERS, timeout=3600)


@task(inject_context=True)
def gift_note(ctx: TaskContext) -> str:
    return ctx.request_text_input("A note for the gift card?", timeout=None)


@task(inject_context=True)
def tag_order(ctx: TaskContext) -> list[str]:
    return ctx.request_feedback("multi_selection", "Tags for the order?", options=TAGS, timeout=None).value


@task(inject_context=True)
def fix_address(ctx: TaskContext) -> dict:
    return ctx.request_feedback("custom", "The address, corrected (a JSON object)?", timeout=None,
                                metadata={"street": "Main St 1", "city": "Springfield"}).value


with workflow("shop_questions") as questions:
    parallel(pick_carrier, gift_note, tag_order, fix_address, name="questions")


@task(inject_context=True)
def quick_question(ctx: TaskContext) -> str:
    try:
        return ctx.request_text_input("Anything to add, quickly?", timeout=1)
    except FeedbackTimeoutError:
        return "nothing added"


with workflow("shop_hurry") as hurry:
    hurry.add(quick_question)


@task(inject_context=True)
def two_keys(ctx: TaskContext) -> bool:
    return ctx.request_approval("Open the safe?", timeout=None, metadata={
        "permission_required": ["orders.approve_large_order", "orders.change_order"]})


@task(inject_context=True)
def odd_key(ctx: TaskContext) -> bool:
    return ctx.request_approval("Open the back door?", timeout=None, metadata={"permission_required": 5})


with workflow("shop_guarded") as guarded:
    parallel(two_keys, odd_key, name="guarded")
