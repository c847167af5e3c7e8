from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from graflow_celery.contrib.django import submit_on_commit
from orders.models import Order
from orders.workflows import APPROVAL_ABOVE, LARGE_ORDER_ABOVE, order_pipeline


@require_http_methods(["GET", "POST"])
def shop(request: HttpRequest) -> HttpResponse:
    """GET: the order form and the latest orders. POST: place an order and follow its run."""
    if request.method == "GET":
        return render(request, "orders/shop.html", {"orders": Order.objects.order_by("-pk")[:10],
                                                    "approval_above": APPROVAL_ABOVE,
                                                    "large_order_above": LARGE_ORDER_ABOVE})
    try:
        quantity = int(request.POST["quantity"])
        price = Decimal(request.POST.get("price", "9.95"))
    except (KeyError, ValueError, InvalidOperation):
        return HttpResponse("quantity must be a whole number and price a decimal", status=400)
    with transaction.atomic():
        order = Order.objects.create(item=request.POST.get("item", "book"), quantity=quantity, price=price,
                                     email=request.POST.get("email", "customer@example.com"))
        run = submit_on_commit(order_pipeline, {"order_id": order.pk})  # starts after the commit
        order.run_id = run.id
        order.save(update_fields=["run_id"])
    return HttpResponseRedirect(reverse("graflow:run", args=[run.id]))
