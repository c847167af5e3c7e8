"""``manage.py graflow runs|status|watch|cancel|graph|feedback ...``: the ``graflow-celery``
command line (``graflow_celery/cli``) inside the project - its Celery app given, every app's
workflows imported, so a workflow is named by its name alone (``manage.py graflow graph
order_pipeline``) - plus what only a Django project has: ``start-pending``, the outbox's sweep
(``outbox.py``) for those who run it from cron or beat."""

from __future__ import annotations

import argparse
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from graflow_celery.cli import main
from graflow_celery.cli.loading import load_app
from graflow_celery.contrib.django.outbox import Outbox, OutboxSettings
from graflow_celery.contrib.django.project import celery_app
from graflow_celery.redact import describe

PROG = "manage.py graflow"
DJANGO_OPTIONS = ("--settings", "--pythonpath")  # read by manage.py before the command runs
FOUND = {"pending": "started", "missing": "gone (its state expired), never started",
         "discarded": "discarded, never started"}


@click.command("start-pending")
@click.option("--grace", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Only rows at least this old (default: CELERY_GRAFLOW_OUTBOX_GRACE, 30); "
                   "0: every committed run not started yet.")
@click.pass_obj
def start_pending(obj: Any, grace: float | None) -> None:
    """Start the runs submitted on commit whose transaction committed but which never started
    (their process died before the commit's callback), and clear their outbox rows. One line per
    run: its id and what it was."""
    app = load_app(obj)
    seconds = OutboxSettings.from_app(app).grace if grace is None else grace
    outbox = Outbox(app)
    try:
        if not outbox.databases():
            raise click.ClickException("no database has the outbox table (graflow_pendingstart): "
                                       "run manage.py migrate")
        handled = outbox.start_committed(seconds)
    except DatabaseError as exc:
        raise click.ClickException(f"the outbox could not be read: {describe(exc)}") from exc
    for run_id, status in handled:
        click.echo(f"{run_id} {FOUND.get(status, f'had started ({status})')}")


project_cli = click.Group(name=main.name, callback=main.callback, params=main.params, help=main.help,
                          commands={**main.commands, "start-pending": start_pending})


class Command(BaseCommand):
    help = ("Follow and steer workflow runs: runs, status RUN, watch RUN, cancel RUN, graph WORKFLOW, "
            "feedback ...; start-pending: start committed runs whose process died before starting them.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, help="graflow-celery's arguments (--help)")

    def run_from_argv(self, argv: list[str]) -> None:
        """From a shell: exactly the command line's output and exit codes."""
        args = [a for a in argv[2:] if not a.startswith(DJANGO_OPTIONS)]
        project_cli.main(args=args, prog_name=PROG, obj=celery_app())

    def handle(self, *args: Any, **options: Any) -> None:
        """From ``call_command``: output to ``stdout``/``stderr``; a non-zero exit is a
        ``CommandError`` carrying the exit code."""
        try:
            with redirect_stdout(self.stdout), redirect_stderr(self.stderr):
                project_cli.main(args=list(args), prog_name=PROG, obj=celery_app(), standalone_mode=False)
        except click.ClickException as exc:
            raise CommandError(exc.format_message(), returncode=exc.exit_code) from exc
        except SystemExit as exc:
            if exc.code:
                raise CommandError(f"{PROG} {' '.join(args)}: exit code {exc.code}",
                                   returncode=int(exc.code)) from exc
