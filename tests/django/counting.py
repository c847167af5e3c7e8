"""A workflow whose first task counts its runs in the test's Redis, per order, and returns the
order's item as the committed row has it (``test_outbox.py``: a run started by its commit's
callback and looked for by workers' sweeps runs once). Imported by its path in the shop's worker
and the driver, as ``asking.py``."""

from __future__ import annotations

import os

import redis
from django.apps import apps

from graflow_celery import task, workflow


def first_task_key(order_id: int) -> str:
    return f"graflow-test:first-task:{order_id}"


@task
def count_first_task(order_id: int) -> str:
    redis.Redis.from_url(os.environ["REDIS_URL"]).incr(first_task_key(order_id))
    return apps.get_model("orders", "Order").objects.get(pk=order_id).item  # this module: in the tests too


@task
def counted_item(count_first_task: str) -> str:
    return count_first_task


with workflow("outbox_counted") as counted:
    count_first_task >> counted_item
