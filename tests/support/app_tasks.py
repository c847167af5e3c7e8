"""Ordinary Celery tasks of the app, next to the workflows."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task(name="tests.add")
def add(x: int, y: int) -> int:
    return x + y


@shared_task(name="tests.explode")
def explode(x: int) -> int:
    raise ValueError(f"explode got {x}")


@shared_task(name="tests.slow_add")
def slow_add(x: int, y: int) -> int:
    """Slow enough for a test to forge its completion while it runs."""
    time.sleep(2)
    return x + y
