"""graflow's ``graflow.hitl.handler`` path: ``FeedbackHandler`` (``core/feedback_handler.py``) and
``WebhookFeedbackHandler``, which posts each callback as JSON to a URL (the standard library's
``urllib``, no HTTP client to install)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request
from typing import Any

from graflow_celery.core.feedback import FeedbackRequest, FeedbackResponse
from graflow_celery.core.feedback_handler import FeedbackHandler
from graflow_celery.errors import ConfigurationError

__all__ = ["FeedbackHandler", "WebhookFeedbackHandler"]


class WebhookFeedbackHandler(FeedbackHandler):
    """POST ``{"event_type": "request_created" | "response_received" | "request_timeout",
    "timestamp": <ISO 8601, UTC>, <the request's fields>}`` to ``webhook_url`` - with ``"response":
    <the answer's fields>`` for a response - sending ``headers`` too (an ``Authorization``, say).
    A post that fails (unreachable, a status of 400 or more, ``timeout`` seconds) raises, which the
    task asking logs as a warning before it goes on."""

    def __init__(self, webhook_url: str, headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        if urllib.parse.urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ConfigurationError("a webhook URL must be http:// or https://")
        self.webhook_url = webhook_url
        self.headers = dict(headers or {})
        self.timeout = timeout

    def on_request_created(self, request: FeedbackRequest) -> None:
        self.post("request_created", request.to_dict())

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        self.post("response_received", {**request.to_dict(), "response": response.to_dict()})

    def on_request_timeout(self, request: FeedbackRequest) -> None:
        self.post("request_timeout", request.to_dict())

    def post(self, event_type: str, fields: dict[str, Any]) -> None:
        body = {"event_type": event_type, "timestamp": dt.datetime.now(dt.UTC).isoformat(), **fields}
        sent = urllib.request.Request(self.webhook_url, data=json.dumps(body).encode(), method="POST",
                                      headers={"Content-Type": "application/json", **self.headers})
        with urllib.request.urlopen(sent, timeout=self.timeout) as reply:  # HTTPError from 400 on
            reply.read()
