"""A parked step's deadline, woken without holding a worker: the ``graflow_celery.feedback_due`` task
(``feedback_due.py``), sent by the worker whose step parked.

The worker whose step parked sends this small message with a countdown to the request's
deadline (at most ``HOP`` ahead). When it runs: if the request still waits and its deadline has
passed, the step is sent again - it runs from its start, and the request raises
``FeedbackTimeoutError`` in the task, which may choose a default or fail. Too early (a long
deadline, or clocks apart), it sends itself again for the time left; answered, timed out or its
run over, it does nothing. No user code runs until the deadline.

Why a message rather than the lease sweep: it wakes the step at its deadline to the second, and
it is durable like any message (acknowledged late, it survives a worker restart). Why ``HOP``:
a worker holds a countdown message unacknowledged until it is due, which a broker bounds (Redis:
its visibility timeout, an hour by default, after which it delivers the message again; RabbitMQ:
``consumer_timeout``, 30 minutes, after which it closes the channel). Each hop is one small
message; a repeated one is harmless, since the step is sent only by a wake-up that finds the
deadline passed, and a step sent twice is applied once.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.feedback_store import Parked

logger = logging.getLogger("graflow_celery.feedback")

DUE_TASK = "graflow_celery.feedback_due"
HOP = 600.0  # seconds: the longest countdown a wake-up message is sent with


def parked(task: Task, context: ExecutionContext, outcome: Parked) -> None:
    """A step parked on ``outcome.key``: wake it at the request's deadline, if it has one."""
    logger.info("run %s: step %s (%s) parked, waiting for feedback %s:%s", context.run_id, outcome.step.id,
                outcome.step.node, context.run_id, outcome.key)
    if outcome.wait is not None:
        wake_at(task.app, context, outcome.key, outcome.wait)


def wake_at(app: Any, context: ExecutionContext, key: str, seconds: float) -> None:
    """Send the wake-up of request ``key`` (on the run's queue) ``seconds`` from now, at most ``HOP``."""
    queue = getattr(context.dispatcher, "default_queue", None)
    options: dict[str, Any] = {"queue": queue} if queue else {}
    app.send_task(DUE_TASK, args=(context.run_id, key), countdown=min(max(seconds, 0.0), HOP),
                  task_id=f"{context.run_id}:feedback:{key}", root_id=context.run_id, ignore_result=True,
                  shadow=f"{context.name}.feedback", **options)
