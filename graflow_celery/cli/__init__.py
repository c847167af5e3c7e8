"""``graflow-celery``: run, draw, submit and follow workflows from a shell.

Thin on purpose: each command parses its arguments and delegates to the library
(``wf.execute``, ``wf.to_mermaid``, ``submit``, ``WorkflowRun``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import click

from graflow_celery.cli.feedback import feedback
from graflow_celery.cli.loading import CliError, load_app, load_workflow, parse_inputs, show
from graflow_celery.cli.progress import StepProgress, interactive
from graflow_celery.core import events
from graflow_celery.errors import GraflowError, WorkflowTimeoutError

ENDED = {"completed": 0, "failed": 1, "cancelled": 2, "discarded": 2}  # `watch`'s exit code per final status


@click.group()
@click.option("-A", "--app", envvar="GRAFLOW_CELERY_APP", metavar="MODULE:APP",
              help="The Celery app, as for `celery -A` (submit, status, watch, cancel).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.pass_context
def main(ctx: click.Context, app: str | None, log_level: str) -> None:
    """Run Graflow workflows in this process or on Celery workers."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if app is not None or ctx.obj is None:  # else the caller gave the app object (manage.py graflow)
        ctx.obj = app


def _run(ctx: click.Context, run_id: str) -> Any:
    from graflow_celery.backends.celery import WorkflowRun

    try:
        return WorkflowRun(run_id, app=load_app(ctx.obj))
    except GraflowError as exc:
        raise CliError(f"unknown run {run_id!r}: {exc}") from exc


def _steps(seen: Any) -> str:
    """done/total, with a "+" when tasks added at run time may add more."""
    return f"{seen.done}/{seen.total}{'+' if seen.lower_bound else ''}"


inputs_option = click.option("--input", "-i", "inputs", multiple=True, metavar="KEY=JSON",
                             help="A channel value (fills task parameters of that name).")


@main.command()
@click.argument("workflow", metavar="MODULE:WORKFLOW")
@inputs_option
@click.option("--max-workers", default=4, show_default=True)
def run(workflow: str, inputs: tuple[str, ...], max_workers: int) -> None:
    """Run a workflow here (memory backend) and print its result."""
    wf = load_workflow(workflow)
    channel = parse_inputs(inputs)
    with StepProgress(len(wf.graph.nodes), bar=interactive()) as progress:
        events.add_middleware(progress)
        try:
            result = wf.execute(initial_channel=channel, max_workers=max_workers)
        except GraflowError as exc:
            click.echo(f"run failed: {exc}", err=True)
            raise SystemExit(1) from exc
        finally:
            events.remove_middleware(progress)
    click.echo(show(result))


@main.command()
@click.argument("workflow", metavar="MODULE:WORKFLOW")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "ascii"]), default="ascii",
              show_default=True)
def graph(workflow: str, fmt: str) -> None:
    """Print a workflow's picture."""
    wf = load_workflow(workflow)
    click.echo({"mermaid": wf.to_mermaid, "dot": wf.to_dot, "ascii": wf.draw_ascii}[fmt]().rstrip("\n"))


@main.command()
@click.argument("workflow", metavar="MODULE:WORKFLOW")
@inputs_option
@click.option("--queue", default=None, help="The queue of its steps (else the app's default).")
@click.pass_context
def submit(ctx: click.Context, workflow: str, inputs: tuple[str, ...], queue: str | None) -> None:
    """Start a workflow on the app's workers; print its run id."""
    from graflow_celery.backends.celery import submit as submit_run

    app = load_app(ctx.obj)
    wf = load_workflow(workflow)
    try:
        handle = submit_run(wf, parse_inputs(inputs), app=app, queue=queue)
    except GraflowError as exc:
        raise CliError(str(exc)) from exc
    click.echo(handle.id)


@main.command()
@click.argument("run_id", metavar="RUN")
@click.option("--tasks", is_flag=True, help="Also a line per task: its id and state.")
@click.pass_context
def status(ctx: click.Context, run_id: str, tasks: bool) -> None:
    """Print a run's status and progress (steps done/made ready)."""
    handle = _run(ctx, run_id)
    states = handle.task_states() if tasks else {}
    seen = handle.progress()
    click.echo(f"{handle.id} {handle.name} {handle.status()} {_steps(seen)}")
    for task_id, state in states.items():
        click.echo(f"  {task_id} {state}")


@main.command()
@click.argument("run_id", metavar="RUN")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.pass_context
def watch(ctx: click.Context, run_id: str, timeout: float | None) -> None:
    """Follow a run until it ends. Exit code: 0 completed, 1 failed, 2 cancelled or discarded."""
    handle = _run(ctx, run_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = None
    while True:
        seen = handle.progress()
        if seen != shown:
            shown = seen
            click.echo(f"{handle.id} {handle.status()} {_steps(seen)} steps")
        try:
            final = handle.wait(timeout=1.0)
            break
        except WorkflowTimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                click.echo(f"run {handle.id} is still running after {timeout}s", err=True)
                raise SystemExit(3) from None
    if final == "completed":
        click.echo(f"completed: {show(handle.result())}")
    else:
        try:
            handle.result()
        except GraflowError as exc:
            click.echo(f"{final}: {exc}", err=True)
    raise SystemExit(ENDED.get(final, 1))


@main.command()
@click.argument("run_id", metavar="RUN")
@click.pass_context
def cancel(ctx: click.Context, run_id: str) -> None:
    """Cancel a run (exit code 1 if it had already ended)."""
    handle = _run(ctx, run_id)
    if handle.cancel("cancelled from the command line"):
        click.echo(f"{handle.id} cancelled")
    else:
        click.echo(f"{handle.id} had already ended: {handle.status()}", err=True)
        raise SystemExit(1)


@main.command()
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1),
              help="How many of the newest runs.")
@click.pass_context
def runs(ctx: click.Context, limit: int) -> None:
    """List the app's newest runs, newest first: id, workflow, status, submitted at (UTC)."""
    from graflow_celery.backends.celery import recent_runs

    for summary in recent_runs(load_app(ctx.obj), limit=limit):
        when = summary.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{summary.id} {summary.workflow} {summary.status} {when}")
main.add_command(feedback)


@click.group("graflow", commands=main.commands)
@click.pass_context
def celery_command(ctx: click.Context) -> None:
    """Graflow workflows of this app: ``celery -A proj graflow status RUN`` and every other
    ``graflow-celery`` command, with the app Celery loaded."""
    ctx.obj = ctx.find_root().obj.app  # Celery's CLIContext loads the -A app on first use
