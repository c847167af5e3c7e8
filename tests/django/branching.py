"""A workflow for the run page's edges (``test_run_page_browser.py``): rows of several boxes whose
successors differ - a fan-out of plain edges, two branches whose next steps sit crossed in the
row below, a join, and a group whose lanes chain - which the shop's straight pipeline has not.
Imported by its path in the shop's worker and web process, as ``asking.py``."""

from __future__ import annotations

import time

from graflow_celery import TaskContext, parallel, task, workflow


@task
def take_order() -> str:
    return "order"


@task
def check_stock() -> bool:
    return True


@task
def check_payment() -> bool:
    return True


@task
def greet_customer() -> str:
    return "hello"


@task(inject_context=True)
def capture_payment(ctx: TaskContext, hold: bool = False) -> str:
    """With the input ``hold``, runs until the channel says "go": to see the run half way."""
    deadline = time.monotonic() + 30
    while hold and not ctx.get_channel().get("go", False) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "captured"


@task
def pick_items() -> str:
    return "picked"


@task
def wrap() -> str:
    return "wrapped"


@task
def label() -> str:
    return "labelled"


@task
def weigh() -> float:
    return 2.5


@task
def dispatch() -> str:
    return "dispatched"


with workflow("shop_branches") as branches:
    take_order >> check_stock
    take_order >> check_payment
    take_order >> greet_customer
    check_payment >> capture_payment  # first in the row below, under check_stock: the edges cross
    check_stock >> pick_items
    packing = parallel(wrap >> label, weigh, name="packing")
    pick_items >> packing
    capture_payment >> packing
    packing >> dispatch

# every edge of the graph, as the run page should draw them
EDGES = {("take_order", "check_stock"), ("take_order", "check_payment"), ("take_order", "greet_customer"),
         ("check_payment", "capture_payment"), ("check_stock", "pick_items"), ("pick_items", "packing"),
         ("capture_payment", "packing"), ("wrap", "label"), ("packing", "dispatch")}
