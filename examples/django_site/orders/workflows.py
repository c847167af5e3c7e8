"""The order pipeline: reserve stock, have a manager approve a large order, then charge and e-mail
at once, then ship - each step updating the order's row. graflow_celery.contrib.django imports
this module (every installed app's ``workflows``) in the web process and in workers, once Django
is ready."""

import time
from decimal import Decimal

from django.core.mail import send_mail
from django.utils import timezone

from graflow_celery import FeedbackTimeoutError, TaskContext, parallel, task, workflow
from orders.models import Order

MAX_QUANTITY = 10
APPROVAL_ABOVE = Decimal("100.00")  # EUR: larger orders wait for a manager's approval before charging
LARGE_ORDER_ABOVE = Decimal("1000.00")  # EUR: and larger still, for a manager who may approve those
LARGE_ORDER_PERMISSION = "orders.approve_large_order"
APPROVAL_TIME = 3 * 24 * 3600  # seconds: an order nobody approved by then is cancelled


class OutOfStock(Exception):
    pass


@task
def reserve_stock(order_id: int) -> dict:
    # Submitted on commit, so the row is there: submitted inside the transaction, this could run
    # before the commit and find nothing (Order.DoesNotExist).
    order = Order.objects.get(pk=order_id)
    if order.quantity > MAX_QUANTITY:
        raise OutOfStock(f"only {MAX_QUANTITY} of {order.item!r} in stock, {order.quantity} ordered")
    Order.objects.filter(pk=order_id).update(status=Order.Status.RESERVED)
    return {"item": order.item, "quantity": order.quantity}


@task(inject_context=True)
def approve(ctx: TaskContext, order_id: int) -> dict:
    """A manager approves or rejects a large order on the approvals page (workflows/feedback/, with
    the permission graflow.answer_feedback; over 1000 EUR, with orders.approve_large_order too:
    the request names it, and other managers do not see it). The step parks while it waits - no
    worker is held - and runs again from its start once answered: what comes before the request
    must be safe to run twice (here it reads, and writes the same status again)."""
    order = Order.objects.get(pk=order_id)
    amount = order.price * order.quantity
    if amount <= APPROVAL_ABOVE:
        return {"approved": True, "by": None}
    Order.objects.filter(pk=order_id).update(status=Order.Status.AWAITING_APPROVAL)
    facts = {"order": order.pk, "amount": f"{amount} EUR", "customer": order.email}
    if amount > LARGE_ORDER_ABOVE:
        facts["permission_required"] = LARGE_ORDER_PERMISSION
    try:
        answer = ctx.request_feedback(
            "approval", f"Approve order {order.pk}: {order.quantity} x {order.item} for {amount} EUR?",
            metadata=facts, timeout=APPROVAL_TIME)
    except FeedbackTimeoutError:
        return cancel_order(ctx, order_id, "", "nobody approved it in time")
    if not answer.approved:
        return cancel_order(ctx, order_id, answer.responded_by or "", answer.reason or "rejected")
    Order.objects.filter(pk=order_id).update(reviewed_by=answer.responded_by or "")
    return {"approved": True, "by": answer.responded_by}


def cancel_order(ctx: TaskContext, order_id: int, by: str, why: str) -> dict:
    """A rejected order is cancelled, and its run ends here, normally: nothing is charged or shipped."""
    Order.objects.filter(pk=order_id).update(status=Order.Status.CANCELLED, reviewed_by=by)
    ctx.terminate_workflow(f"order {order_id} cancelled: {why}")
    return {"approved": False, "by": by or None, "why": why}


@task
def charge(order_id: int, payment_delay: float = 0.0) -> dict:
    time.sleep(payment_delay)  # the payment provider's latency (an input, to watch a run go on)
    order = Order.objects.get(pk=order_id)
    amount: Decimal = order.price * order.quantity
    now = timezone.now()
    Order.objects.filter(pk=order_id).update(status=Order.Status.CHARGED, charged_at=now)
    return {"amount": amount, "charged_at": now}


@task
def send_confirmation(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)
    send_mail(f"Your order {order.pk}", f"{order.quantity} x {order.item} is on its way.",
              "shop@example.com", [order.email])
    Order.objects.filter(pk=order_id).update(emailed=True)
    return order.email


@task
def ship(order_id: int, charge: dict) -> str:
    tracking = f"TRK-{order_id:06d}"
    Order.objects.filter(pk=order_id).update(status=Order.Status.SHIPPED, tracking=tracking)
    return tracking


with workflow("order_pipeline") as order_pipeline:
    reserve_stock >> approve >> parallel(charge, send_confirmation, name="charge_and_email") >> ship
