"""Callbacks on a request for feedback (graflow's ``FeedbackHandler``), passed per request:
``ctx.request_feedback(..., handler=h)``.

Each callback is made once per request, whichever run of the step makes it: on Celery a parked
step runs again from its start, and finds its request already made (``Asked.made``) and, once
answered, already read (``Asked.first_read``). The callbacks run in the task's own process - a
Celery worker - and what one raises is logged, never raised: telling someone must not fail the task.
"""

from __future__ import annotations

import logging
from typing import Protocol

from graflow_celery.core.feedback import FeedbackRequest, FeedbackResponse
from graflow_celery.redact import describe

logger = logging.getLogger("graflow_celery.feedback")


class FeedbackCallbacks(Protocol):
    """What a handler is: any object with these three methods (``FeedbackHandler`` has them all)."""

    def on_request_created(self, request: FeedbackRequest) -> None: ...

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None: ...

    def on_request_timeout(self, request: FeedbackRequest) -> None: ...


class FeedbackHandler:
    """Override the callbacks you need; the others do nothing."""

    def on_request_created(self, request: FeedbackRequest) -> None:
        """The request was made and now waits: tell whoever should answer it (a chat message, a
        mail with a link to the approvals page)."""

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        """The task got the answer (``request.status`` is "completed")."""

    def on_request_timeout(self, request: FeedbackRequest) -> None:
        """The deadline passed without an answer; ``FeedbackTimeoutError`` is raised in the task
        right after this call."""


def tell(handler: FeedbackCallbacks | None, callback: str, request: FeedbackRequest,
         *more: FeedbackResponse) -> None:
    """Call ``handler.<callback>(request, *more)``; what it raises is logged as a warning."""
    if handler is None:
        return
    try:
        getattr(handler, callback)(request, *more)
    except Exception as exc:
        logger.warning("feedback handler %s.%s failed for %s (the task goes on): %s",
                       type(handler).__name__, callback, request.feedback_id, describe(exc))
