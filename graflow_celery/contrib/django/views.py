"""JSON views, the run page and the recent-runs page (``urls.py`` wires them).

Every view asks ``access.allowed`` first (staff only unless ``CELERY_GRAFLOW_VIEWS_ACCESS`` says
otherwise). Cancelling is a POST, under Django's CSRF protection like any form.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from graflow_celery.backends.celery.run import WorkflowRun, recent_runs
from graflow_celery.contrib.django.access import Action, allowed
from graflow_celery.contrib.django.answers import shown, when
from graflow_celery.contrib.django.encoding import RunJSONEncoder, json_response
from graflow_celery.contrib.django.feedback_access import answerable
from graflow_celery.contrib.django.picture import layout, mark
from graflow_celery.contrib.django.project import celery_app
from graflow_celery.contrib.django.report import STATE_LABELS, run_report
from graflow_celery.core import pictures
from graflow_celery.errors import ConfigurationError

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _run(request: HttpRequest, run_id: str, action: Action) -> WorkflowRun:
    if not allowed(request, run_id, action):
        raise Refused(403, f"you may not {action} run {run_id}")
    try:
        return WorkflowRun(run_id, app=celery_app())
    except ConfigurationError as exc:
        raise Refused(404, str(exc)) from exc


def limit_of(request: HttpRequest) -> int:
    raw = request.GET.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Refused(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


# --- JSON ----------------------------------------------------------------------------------------------


def _report(run: WorkflowRun) -> dict[str, Any]:
    try:
        return run_report(run)
    except ConfigurationError as exc:  # its state expired since it was found
        raise Refused(404, str(exc)) from exc


@require_GET
def run_json(request: HttpRequest, run_id: str) -> HttpResponse:
    try:
        return json_response(_report(_run(request, run_id, "view")))
    except Refused as exc:
        return json_response({"error": str(exc)}, status=exc.status)


@require_POST
def cancel_json(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """Cancel a run: 200 if it was cancelled now, 409 if it had ended. A form may send ``next``
    (a URL of this site) to be sent back there instead."""
    try:
        run = _run(request, run_id, "cancel")
    except Refused as exc:
        return json_response({"error": str(exc)}, status=exc.status)
    cancelled = run.cancel(f"cancelled from {request.path}")
    back = request.POST.get("next")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(back)
    return json_response({"id": run.id, "cancelled": cancelled, "status": run.status()},
                         status=200 if cancelled else 409)


@require_GET
def runs_json(request: HttpRequest) -> HttpResponse:
    """The newest runs, newest first (``?limit=``, default 50)."""
    try:
        if not allowed(request, None, "list"):
            raise Refused(403, "you may not list runs")
        runs = recent_runs(celery_app(), limit=limit_of(request))
    except Refused as exc:
        return json_response({"error": str(exc)}, status=exc.status)
    return json_response({"runs": [summary.to_dict() for summary in runs]})


# --- pages -----------------------------------------------------------------------------------------------


@require_GET
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    """The run's graph with each task's state, refreshed while the run goes on."""
    try:
        run = _run(request, run_id, "view")
        report = _report(run)
        graph = run.graph()
    except Refused as exc:
        if exc.status == 404:
            raise Http404(str(exc)) from exc
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    except ConfigurationError as exc:
        raise Http404(str(exc)) from exc
    rows = layout(graph)
    mark(rows, report["tasks"], STATE_LABELS)
    return render(request, "graflow/run.html", {
        "run": report, "rows": rows, "labels": STATE_LABELS, "mermaid": pictures.to_mermaid(graph),
        "waiting": [{**r, "deadline_at": when(r["deadline"])} for r in report["feedback"]["waiting"]],
        "history": [{**e, "when": when(e["at"]), "shown": shown(e["feedback_type"], e["value"])}
                    for e in report["feedback"]["history"]],
        # a link to the approvals page, for a user who may answer one of the requests listed
        "can_answer": bool(report["feedback"]["waiting"] and answerable(request, run.pending_feedback())),
        "result": json.dumps(report["result"], cls=RunJSONEncoder, indent=2),
        "api_url": reverse("graflow:api-run", args=[run.id]),
        "cancel_url": reverse("graflow:api-cancel", args=[run.id]), "page_url": request.get_full_path(),
        "can_cancel": not report["finished"] and allowed(request, run.id, "cancel"),
        # followed until nothing changes any more: a cancelled run's step may still be running
        "live": not report["finished"] or "executing" in report["tasks"].values(),
    })


@require_GET
def runs_page(request: HttpRequest) -> HttpResponse:
    try:
        if not allowed(request, None, "list"):
            raise Refused(403, "you may not list runs")
        runs = recent_runs(celery_app(), limit=limit_of(request))
    except Refused as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    return render(request, "graflow/runs.html", {"runs": runs})
