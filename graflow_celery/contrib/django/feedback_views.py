"""The approvals page and its JSON twins: the requests for feedback waiting in the project's runs,
answered by the logged-in user (``by=`` their username).

Each user sees and answers only the requests ``feedback_access`` lets them (by default: with the
permission ``graflow.answer_feedback``, and the request's own ``permission_required`` if it names
any); one they may not answer is refused as one that does not exist (403). Who may not use the
page at all is sent to the login page if not logged in; the JSON views answer 403.

Answers are POSTs under Django's CSRF protection (``csrf_protect`` as well as the middleware, so a
project without it is protected too); ``answers.py`` reads and checks them against the request as
stored, and a refused answer - invalid, answered already, timed out, of a run that is over -
changes nothing and says why.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from celery import Celery
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from graflow_celery.backends.celery.run import WorkflowRun
from graflow_celery.contrib.django import answers
from graflow_celery.contrib.django.encoding import json_response
from graflow_celery.contrib.django.feedback_access import (
    ANSWER_PERMISSION,
    FeedbackCheck,
    answerable,
    by_permission,
    feedback_check,
)
from graflow_celery.contrib.django.project import celery_app
from graflow_celery.contrib.django.views import MAX_LIMIT, Refused, limit_of
from graflow_celery.core.feedback import FeedbackEntry, FeedbackRequest
from graflow_celery.core.run_feedback import run_of
from graflow_celery.errors import ConfigurationError, FeedbackNotWaitingError, InvalidFeedbackError
from graflow_celery.feedback import pending_feedback

FORBIDDEN = f"answering requests for feedback needs the permission {ANSWER_PERMISSION}"
FORBIDDEN_HERE = "you may not answer requests for feedback"  # CELERY_GRAFLOW_FEEDBACK_ACCESS said so
# what a person reads for each type
KINDS = {"approval": "approval", "text": "text", "selection": "selection",
         "multi_selection": "multi-selection", "custom": "custom (JSON)"}


@dataclass(frozen=True)
class Waiting:
    """A waiting request as the page shows it."""

    request: FeedbackRequest
    kind: str
    kind_label: str
    created: dt.datetime | None
    deadline: dt.datetime | None
    metadata: list[tuple[str, str]]

    @classmethod
    def of(cls, request: FeedbackRequest) -> Waiting:
        facts = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in request.metadata.items()]
        kind = request.feedback_type.value
        return cls(request, kind, KINDS.get(kind, kind), answers.when(request.created_at),
                   answers.when(request.deadline), facts)


def _username(request: HttpRequest) -> str:
    return str(request.user.get_username())  # type: ignore[union-attr]


def _refused(check: FeedbackCheck) -> str:
    return FORBIDDEN if check is by_permission else FORBIDDEN_HERE


def _waiting(app: Celery, request: HttpRequest, limit: int | None = None) -> list[FeedbackRequest]:
    """Newest first, those the user may answer: the app's, or one run's (``?run=``); at most
    ``limit`` (else ``?limit=``). Read up to the most any page shows, then left to the user's."""
    limit = limit or limit_of(request)
    run_id = request.GET.get("run")
    if not run_id:
        return answerable(request, pending_feedback(app, limit=MAX_LIMIT))[:limit]
    try:
        return answerable(request, WorkflowRun(run_id, app=app).pending_feedback())[:limit]
    except ConfigurationError as exc:
        raise Refused(404, str(exc)) from exc


def _answered(app: Celery, feedback_id: str | None, may: answers.Allowed) -> FeedbackEntry | None:
    """The audit-trail line of a request just answered (``?answered=``), read from its run - if
    the user may see that request."""
    if not feedback_id:
        return None
    try:
        run, asked = answers.stored(app, feedback_id)
    except FeedbackNotWaitingError:
        return None
    if asked is None or not may(asked):
        return None
    return next((e for e in run.feedback_history()
                 if e.feedback_id == feedback_id and e.outcome == "answered"), None)


def _prompt(app: Celery, feedback_id: str) -> str | None:
    """The prompt of a request, whatever its status (None: no such request). Asked only once
    answering it got past the access check."""
    try:
        found = answers.request_run(app, feedback_id).feedback_request(feedback_id)
    except FeedbackNotWaitingError:
        return None
    return found.prompt if found is not None else None


# --- the page --------------------------------------------------------------------------------------------


def _to_login(request: HttpRequest) -> HttpResponse:
    # Imported here: with no logged-in user possible (django.contrib.auth not installed) nobody
    # gets this far, and the auth views cannot be imported in such a project.
    from django.contrib.auth.views import redirect_to_login

    return redirect_to_login(request.get_full_path())


@require_http_methods(["GET", "POST"])
@csrf_protect
def feedback_page(request: HttpRequest) -> HttpResponse:
    """GET: the waiting requests, newest first, each with a form. POST (``feedback_id``,
    ``answer``, ``reason``): answer one, then back to the page saying what was answered."""
    check = feedback_check()
    if not check(request, None):
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            return _to_login(request)
        return HttpResponse(_refused(check), status=403, content_type="text/plain")
    app = celery_app()
    status, refused, refused_prompt = 200, None, None
    if request.method == "POST":
        feedback_id = request.POST.get("feedback_id", "")
        try:
            answers.answer(app, feedback_id, answers.from_form(request.POST),
                           may=lambda asked: check(request, asked), by=_username(request),
                           reason=request.POST.get("reason", "").strip())
        except answers.NotYours as exc:  # no prompt shown: they may not see it
            status, refused = answers.FORBIDDEN, str(exc)
        except (FeedbackNotWaitingError, InvalidFeedbackError) as exc:
            status, refused = answers.status_of(exc), str(exc)
            refused_prompt = _prompt(app, feedback_id)
        else:
            query = {k: v for k, v in (("run", request.GET.get("run")), ("answered", feedback_id)) if v}
            return HttpResponseRedirect(f"{request.path}?{urlencode(query)}")
    try:
        shown = limit_of(request)
        waiting = _waiting(app, request, MAX_LIMIT)
    except Refused as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    waiting, older = waiting[:shown], waiting[shown:]
    run_id = request.GET.get("run")
    answered = None if refused else _answered(app, request.GET.get("answered"),
                                              lambda asked: check(request, asked))
    this_run = {"run": run_id} if run_id else {}
    return render(request, "graflow/feedback.html", {
        "waiting": [Waiting.of(r) for r in waiting], "run_id": run_id, "username": _username(request),
        "action": request.path + (f"?{urlencode(this_run)}" if this_run else ""),
        # While open, the page asks which requests wait (every one, to tell those gone) and takes
        # the forms of new ones from the page drawn again; those waiting beyond its limit now are
        # not new then.
        "poll_url": reverse("graflow:api-feedback") + "?" + urlencode({**this_run, "limit": MAX_LIMIT}),
        "older": [r.feedback_id for r in older],
        "refused": refused, "refused_prompt": refused_prompt, "answered": answered,
        "answered_value": answers.shown(answered.feedback_type, answered.value) if answered else None,
        "answered_run": run_of(answered.feedback_id) if answered else None,
    }, status=status)


# --- JSON ------------------------------------------------------------------------------------------------


@require_GET
def feedback_json(request: HttpRequest) -> HttpResponse:
    """``{"requests": [...]}``: waiting requests the user may answer, newest first (``?limit=``,
    ``?run=``)."""
    check = feedback_check()
    if not check(request, None):
        return json_response({"error": _refused(check)}, status=403)
    try:
        waiting = _waiting(celery_app(), request)
    except Refused as exc:
        return json_response({"error": str(exc)}, status=exc.status)
    return json_response({"requests": [r.to_dict() for r in waiting]})


@require_POST
@csrf_protect
def answer_json(request: HttpRequest, feedback_id: str) -> HttpResponseBase:
    """Answer a request: a JSON body ``{"value": ..., "reason": ...}`` (or ``{"answer": "text"}``),
    or form fields as the page sends them. 200 with the answer; 400 invalid, 403 one the user may
    not answer or none at all, 409 not waiting (answered, timed out, its run over) - each with
    ``error`` and ``reason``, and nothing changed."""
    check = feedback_check()
    if not check(request, None):
        return json_response({"error": _refused(check)}, status=403)
    if request.content_type == "application/json":
        try:
            body: Any = json.loads(request.body or b"{}")
        except ValueError as exc:
            return json_response({"error": f"the body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict):
            return json_response({"error": "the body must be a JSON object"}, status=400)
        read, reason = answers.from_json(body), body.get("reason")
    else:
        read, reason = answers.from_form(request.POST), request.POST.get("reason")
    if reason is not None and not isinstance(reason, str):
        return json_response({"error": "reason must be a string"}, status=400)
    try:
        response = answers.answer(celery_app(), feedback_id, read, may=lambda asked: check(request, asked),
                                  by=_username(request), reason=reason)
    except (answers.NotYours, FeedbackNotWaitingError, InvalidFeedbackError) as exc:
        why = "invalid" if isinstance(exc, InvalidFeedbackError) else exc.reason
        return json_response({"error": str(exc), "reason": why}, status=answers.status_of(exc))
    return json_response({"answered": response.to_dict()})
