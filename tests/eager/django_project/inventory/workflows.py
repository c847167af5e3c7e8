"""A stocktake: restock, then count two shelves at once, then total - every task on the database."""

from __future__ import annotations

import threading

from graflow_celery import parallel, task, workflow
from tests.eager.django_project.inventory.models import Item

threads: list[str] = []  # the threads tasks ran in, for the tests


def _ran() -> None:
    threads.append(threading.current_thread().name)


@task
def restock() -> int:
    _ran()
    return Item.objects.filter(count__lt=5).update(count=5)


@task
def count_a() -> int:
    _ran()
    return sum(Item.objects.filter(name__startswith="a").values_list("count", flat=True))


@task
def count_b() -> int:
    _ran()
    return sum(Item.objects.filter(name__startswith="b").values_list("count", flat=True))


@task
def total(count_a: int, count_b: int) -> int:
    _ran()
    return count_a + count_b


with workflow("eager_stocktake") as stocktake:
    restock >> parallel(count_a, count_b, name="shelves") >> total
