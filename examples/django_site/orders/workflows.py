"""The order pipeline: reserve stock, then charge and e-mail at once, then ship - each step
updating the order's row. graflow_celery.contrib.django imports this module (every installed
app's ``workflows``) in the web process and in workers, once Django is ready."""

import time
from decimal import Decimal

from django.core.mail import send_mail
from django.utils import timezone

from graflow_celery import parallel, task, workflow
from orders.models import Order

MAX_QUANTITY = 10


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
    reserve_stock >> parallel(charge, send_confirmation, name="charge_and_email") >> ship
