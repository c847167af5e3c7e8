"""A workflow for the tracing tests: its group's members go to two queues (one per test worker),
one member is retried and then fails, so the run fails at the group's judgement."""

from __future__ import annotations

import time

from opentelemetry import trace

from graflow_celery import RetryPolicy, parallel, task, workflow
from tests.support.celery_flows import worker_name


@task
def prepare() -> int:
    return 1


@task(queue="otel_a")
def charge(prepare: int) -> str:
    with trace.get_tracer("tests.otel_flows").start_as_current_span("card-api"):  # the task's own span
        time.sleep(0.2)
    return worker_name()


@task(queue="otel_b")
def ship(prepare: int) -> str:
    time.sleep(0.2)
    return worker_name()


@task(queue="otel_b", max_retries=1, retry_policy=RetryPolicy(max_retries=1, initial_interval=0.05))
def notify() -> None:
    raise ValueError("mail server redis://user:hunter2@mail/0 refused")


@task
def report(fan: dict) -> str:
    return "never runs: the group fails"


def order_pipeline():
    with workflow("order_pipeline") as wf:
        prepare >> parallel(charge, ship, notify, name="fan") >> report
    return wf


def two_steps():
    with workflow("two_steps") as wf:
        prepare >> charge
    return wf
