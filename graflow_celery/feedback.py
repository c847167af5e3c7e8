"""Answering requests for feedback from anywhere: a Django view, a command line, another thread.

- ``pending_feedback(app)``: every request waiting in the app's Redis, newest first; without an
  app, those of the in-process runs this process holds (the memory backend); with
  ``redis_client=``, those in that Redis (in-process runs of other processes keeping them there).
- ``respond(feedback_id, value, by=..., app=app)``: answer one, wherever its run is - checked
  against the request (``InvalidFeedbackError``), taken only if it still waits
  (``FeedbackNotWaitingError``), its parked step sent again.
- ``local_run(run_id)``: the handle on an in-process run of this process (``run.respond``, ...).

The run handle has the same per run: ``run.pending_feedback()``, ``run.respond(...)``,
``run.feedback_history()``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from graflow_celery.backends.celery.celery_runs import CeleryRun
from graflow_celery.backends.celery.eager import eager
from graflow_celery.backends.celery.feedback_store import RedisFeedback, pending_in
from graflow_celery.backends.celery.runtime import Runtime, resolve_app
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.backends.memory.feedback import live_run, live_runs
from graflow_celery.backends.memory.run import InProcessRun
from graflow_celery.core.feedback import FeedbackRequest, FeedbackResponse
from graflow_celery.core.run_feedback import answer, run_of
from graflow_celery.core.run_handle import RunHandle
from graflow_celery.errors import ConfigurationError, FeedbackNotWaitingError, InvalidRunIdError


def pending_feedback(app: Celery | None = None, *, redis_client: Any = None,
                     limit: int = 100) -> list[FeedbackRequest]:
    """Requests waiting for an answer, newest first (at most ``limit``)."""
    if redis_client is not None:
        return pending_in(redis_client, limit)
    if app is not None and not eager(resolve_app(app)):
        return pending_in(Runtime.for_app(resolve_app(app)).client, limit)
    waiting = [r for context in live_runs() for r in RunHandle(InProcessRun(context)).pending_feedback()]
    return sorted(waiting, key=lambda r: r.created_at, reverse=True)[:limit]


def respond(feedback_id: str, value: Any, *, by: str | None = None, reason: str | None = None,
            app: Celery | None = None, redis_client: Any = None) -> FeedbackResponse:
    """Answer a waiting request (see ``RunHandle.respond``). Where its run is: ``app`` (its Redis
    and workers), ``redis_client`` (an in-process run of another process keeping its requests in
    that Redis), or neither (an in-process run of this process)."""
    run_id = run_of(feedback_id)
    if redis_client is not None:
        try:
            store = RedisFeedback(redis_client, Scripts(redis_client), run_id, None, parks=False)
        except InvalidRunIdError as exc:
            raise FeedbackNotWaitingError(feedback_id, "unknown", str(exc)) from None
        return answer(store, run_id, feedback_id, value, by=by, reason=reason, send=None)
    if app is not None and not eager(resolve_app(app)):
        try:
            run = CeleryRun(Runtime.for_app(resolve_app(app)), run_id)
        except InvalidRunIdError as exc:
            raise FeedbackNotWaitingError(feedback_id, "unknown", str(exc)) from None
        return RunHandle(run).respond(feedback_id, value, by=by, reason=reason)
    if live_run(run_id) is None:
        raise FeedbackNotWaitingError(feedback_id, "unknown", f"this process holds no in-process run "
                                      f"{run_id} (for a run on Celery workers pass app=)")
    return local_run(run_id).respond(feedback_id, value, by=by, reason=reason)


def local_run(run_id: str) -> RunHandle:
    """The handle on an in-process run this process holds (``ConfigurationError`` if none): answer
    its requests from another thread, follow it, cancel it."""
    context = live_run(run_id)
    if context is None:
        raise ConfigurationError(f"this process holds no in-process run {run_id!r} (it ended and was "
                                 "dropped, or it runs elsewhere: pass app= or redis_client=)")
    return RunHandle(InProcessRun(context))
