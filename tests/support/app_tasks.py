"""Ordinary Celery tasks of the app, next to the workflows."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tests.add")
def add(x: int, y: int) -> int:
    return x + y


@shared_task(name="tests.explode")
def explode(x: int) -> int:
    raise ValueError(f"explode got {x}")
