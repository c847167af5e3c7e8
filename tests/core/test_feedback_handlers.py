"""Feedback handlers in process: what a raising handler logs, graflow's own ``FeedbackHandler``
subclasses, an in-process run keeping its requests in Redis (its task blocks, then reads the
answer), and ``WebhookFeedbackHandler`` posting to a real local HTTP server."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

import graflow_celery
from graflow_celery import (
    ConfigurationError,
    FeedbackTimeoutError,
    MemoryBackend,
    TaskContext,
    WorkflowEngine,
    task,
    workflow,
)
from graflow_celery.core.feedback import FeedbackRequest, FeedbackType
from graflow_celery.core.feedback_handler import tell
from graflow_celery.hitl.handler import FeedbackHandler, WebhookFeedbackHandler
from tests.contract import feedback_flows as ff
from tests.support.wait import wait_for


def a_request(fid: str = "run-1:1:0") -> FeedbackRequest:
    return FeedbackRequest(fid, "approve", "run-1", FeedbackType.APPROVAL, "Go?", step_id="1")


def test_a_raising_handler_is_logged_naming_its_class_and_callback(caplog):
    class Noisy(FeedbackHandler):
        def on_request_created(self, request: FeedbackRequest) -> None:
            raise ConnectionError("no route to chat.example.com")

    with caplog.at_level(logging.WARNING, logger="graflow_celery.feedback"):
        tell(Noisy(), "on_request_created", a_request())
        tell(Noisy(), "on_request_timeout", a_request())  # inherited: does nothing
        tell(None, "on_request_created", a_request())
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == ("feedback handler Noisy.on_request_created failed for run-1:1:0 (the task "
                                   "goes on): ConnectionError: no route to chat.example.com")


def _answer_in_background(context: Any, answer: object) -> threading.Thread:
    def answering() -> None:
        run = graflow_celery.local_run(context.run_id)
        [request] = wait_for("the request", run.pending_feedback)
        run.respond(request.feedback_id, answer, by="ann")

    thread = threading.Thread(target=answering, daemon=True)
    thread.start()
    return thread


told_by_graflows_handler: list[str] = []


@task(inject_context=True)
def approve_with_graflows_handler(ctx: TaskContext) -> bool:
    from graflow.hitl.handler import FeedbackHandler as GraflowsHandler

    class Told(GraflowsHandler):  # type: ignore[misc]
        def on_request_created(self, request: Any) -> None:
            told_by_graflows_handler.append(f"created {request.prompt}")

        def on_response_received(self, request: Any, response: Any) -> None:
            told_by_graflows_handler.append(f"answered {response.approved} by {response.responded_by}")

    return bool(ctx.request_feedback("approval", "Go?", handler=Told()).approved)


def test_a_subclass_of_graflows_own_feedback_handler_is_told():
    pytest.importorskip("graflow.hitl.handler")
    with workflow("fb_graflows_handler") as wf:
        wf.add(approve_with_graflows_handler)
    context = MemoryBackend().new_run(wf.graph, name=wf.name)
    answering = _answer_in_background(context, True)
    assert WorkflowEngine().execute(context) is True
    answering.join(10)
    assert told_by_graflows_handler == ["created Go?", "answered True by ann"]


def test_an_in_process_run_keeping_its_requests_in_redis_tells_each_outcome_once(redis_server):
    client = redis.Redis.from_url(redis_server.db_url(12))
    backend = MemoryBackend(feedback_backend="redis", feedback_config={"redis_client": client})
    context = backend.new_run(ff.told_two_in_a_row().graph, name="fb_told_two")
    run = graflow_celery.local_run(context.run_id)
    asked: list[str] = []

    def answering() -> None:
        [first] = wait_for("the first request", run.pending_feedback)
        run.respond(first.feedback_id, True, by="ann")
        [second] = wait_for("the second request", lambda: [r for r in run.pending_feedback()
                                                           if r.feedback_id != first.feedback_id])
        run.respond(second.feedback_id, "fine", by="bob")
        asked.extend([first.feedback_id, second.feedback_id])

    thread = threading.Thread(target=answering, daemon=True)
    thread.start()
    assert WorkflowEngine().execute(context) == [True, "fine"]  # its task blocked twice, woken by Redis
    thread.join(10)
    first, second = asked
    assert context.get_channel().get("told") == [
        f"created {first} pending", f"answered {first} True by ann completed",
        f"created {second} pending", f"answered {second} 'fine' by bob completed"]


# --- WebhookFeedbackHandler against a real HTTP server ---------------------------------------------


@dataclass
class Hook:
    url: str
    posts: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    status: int = 204


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A local HTTP server recording each POST (its headers and JSON body), answering ``status``."""
    posts: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append((dict(self.headers), body))
            self.send_response(found.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    found = Hook(f"http://127.0.0.1:{server.server_address[1]}/hooks/feedback", posts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@task(inject_context=True)
def ask_with_webhook(ctx: TaskContext) -> str:
    channel = ctx.get_channel()
    hook = WebhookFeedbackHandler(channel.get("url"), headers={"Authorization": "Bearer t0ken"}, timeout=5)
    try:
        return ctx.request_text_input("Note?", metadata={"order": 7}, timeout=channel.get("timeout"),
                                      handler=hook)
    except FeedbackTimeoutError:
        return "no note"


def _webhook_run(url: str, timeout: float | None) -> Any:
    with workflow("fb_webhook") as wf:
        wf.add(ask_with_webhook)
    context = MemoryBackend().new_run(wf.graph, name=wf.name)
    context.channel.set("url", url)
    context.channel.set("timeout", timeout)
    return context


def test_the_webhook_handler_posts_the_request_and_its_answer(hook: Hook):
    context = _webhook_run(hook.url, None)
    answering = _answer_in_background(context, "fragile")
    assert WorkflowEngine().execute(context) == "fragile"
    answering.join(10)
    [(headers, created), (_, answered)] = hook.posts
    assert headers["Authorization"] == "Bearer t0ken" and headers["Content-Type"] == "application/json"
    fid = created["feedback_id"]
    assert (created["event_type"], created["prompt"], created["metadata"], created["feedback_type"],
            created["session_id"], created["status"]) == ("request_created", "Note?", {"order": 7}, "text",
                                                          context.run_id, "pending")
    assert created["timestamp"].endswith("+00:00")
    assert (answered["event_type"], answered["feedback_id"], answered["status"]) == (
        "response_received", fid, "completed")
    assert {k: answered["response"][k] for k in ("text", "responded_by", "feedback_id")} == {
        "text": "fragile", "responded_by": "ann", "feedback_id": fid}


def test_the_webhook_handler_posts_a_timeout(hook: Hook):
    assert WorkflowEngine().execute(_webhook_run(hook.url, 0.3)) == "no note"
    assert [(body["event_type"], body["status"]) for _, body in hook.posts] == [
        ("request_created", "pending"), ("request_timeout", "timeout")]


def test_a_webhook_that_fails_is_logged_and_the_task_goes_on(hook: Hook, caplog):
    hook.status = 500
    with pytest.raises(urllib.error.HTTPError):
        WebhookFeedbackHandler(hook.url).on_request_created(a_request())  # called directly, it raises
    with caplog.at_level(logging.WARNING, logger="graflow_celery.feedback"):
        assert WorkflowEngine().execute(_webhook_run(hook.url, 0.3)) == "no note"
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "feedback handler WebhookFeedbackHandler.on_request_created",
        "feedback handler WebhookFeedbackHandler.on_request_timeout"]
    assert "HTTP Error 500" in caplog.records[0].getMessage()


def test_a_webhook_url_must_be_http():
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        WebhookFeedbackHandler("file:///etc/passwd")
