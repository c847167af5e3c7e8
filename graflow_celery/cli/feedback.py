"""``graflow-celery feedback list|respond|history``: the requests of an app's runs that wait for a
person, answered from a shell. Thin: ``graflow_celery.pending_feedback``, ``WorkflowRun``."""

from __future__ import annotations

import json
from typing import Any

import click

from graflow_celery.cli.loading import CliError, load_app, show
from graflow_celery.core.feedback import FeedbackRequest, split_feedback_id
from graflow_celery.errors import FeedbackNotWaitingError, GraflowError, InvalidFeedbackError

REFUSED = 1  # exit code: the request is not waiting (answered, timed out, unknown, its run over)


@click.group()
def feedback() -> None:
    """Requests for feedback of the app's runs: list them, answer one, show a run's answers."""


def _line(request: FeedbackRequest) -> str:
    options = f" [{', '.join(request.options)}]" if request.options else ""
    deadline = f" (until {request.deadline})" if request.deadline else ""
    where = f"{request.workflow or '?'}.{request.task_id}"
    kind = request.feedback_type.value
    return f"{request.feedback_id}  {where}  {kind}{options}  {request.prompt}{deadline}"


@feedback.command("list")
@click.option("--run", "run_id", default=None, help="Only this run's requests.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_(ctx: click.Context, run_id: str | None, limit: int, as_json: bool) -> None:
    """Requests waiting for an answer, newest first."""
    from graflow_celery.feedback import pending_feedback

    app = load_app(ctx.obj)
    requests = _run(app, run_id).pending_feedback()[:limit] if run_id else pending_feedback(app, limit=limit)
    for request in requests:
        click.echo(json.dumps(request.to_dict()) if as_json else _line(request))


@feedback.command()
@click.argument("feedback_id", metavar="FEEDBACK_ID")
@click.argument("answer")
@click.option("--by", default=None, help="Who answers (kept with the answer).")
@click.option("--reason", default=None, help="Why (kept with the answer).")
@click.pass_context
def respond(ctx: click.Context, feedback_id: str, answer: str, by: str | None, reason: str | None) -> None:
    """Answer a request: yes/no for an approval, one of the options, text, a JSON object for custom,
    a comma-separated list (or JSON list) for a multi-selection. Exit code 1 if it is not waiting."""
    parsed = split_feedback_id(feedback_id)
    if parsed is None:
        raise CliError(f"{feedback_id!r} is not a request id (<run id>:<step>:<n>)")
    run = _run(load_app(ctx.obj), parsed[0])
    request = run.feedback_request(feedback_id)
    try:
        if request is None:
            raise FeedbackNotWaitingError(feedback_id, "unknown", "this run has no such request")
        response = run.respond(feedback_id, request.parse_answer(answer), by=by, reason=reason)
    except FeedbackNotWaitingError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(REFUSED) from exc
    except InvalidFeedbackError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"answered {feedback_id}: {show(response.value)}")


@feedback.command()
@click.argument("run_id", metavar="RUN")
@click.pass_context
def history(ctx: click.Context, run_id: str) -> None:
    """A run's requests answered (when, by whom, what) or timed out, in that order."""
    for entry in _run(load_app(ctx.obj), run_id).feedback_history():
        who = f" by {entry.responded_by}" if entry.responded_by else ""
        what = f": {show(entry.value)}" if entry.outcome == "answered" else ""
        click.echo(f"{entry.at}  {entry.feedback_id}  {entry.outcome}{who}{what}  {entry.prompt}")


def _run(app: Any, run_id: str) -> Any:
    from graflow_celery.backends.celery import WorkflowRun

    try:
        return WorkflowRun(run_id, app=app)
    except GraflowError as exc:
        raise CliError(f"unknown run {run_id!r}: {exc}") from exc
