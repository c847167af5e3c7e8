"""Workflows defined at import (module level), as a user's module would: for the command line
tests (``python -m graflow_celery run tests.support.cli_flows:doubling``)."""

from __future__ import annotations

import time

from graflow_celery import task, workflow


@task
def seed(n: int = 1) -> int:
    return n


@task
def twice(seed: int) -> int:
    return seed * 2


@task
def plus_one(twice: int) -> int:
    return twice + 1


@task
def broken(seed: int) -> int:
    raise ValueError(f"broken on purpose ({seed})")


@task
def nap(seconds: float = 3.0) -> float:
    time.sleep(seconds)
    return seconds


with workflow("cli_doubling") as doubling:
    seed >> twice >> plus_one

with workflow("cli_broken") as failing:
    seed >> broken

with workflow("cli_sleepy") as sleepy:
    nap >> seed
