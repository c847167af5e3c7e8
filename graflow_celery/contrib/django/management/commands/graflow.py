"""``manage.py graflow runs|status|watch|cancel|graph ...``: the ``graflow-celery`` command line
(``graflow_celery/cli``) inside the project - its Celery app given, every app's workflows
imported, so a workflow is named by its name alone (``manage.py graflow graph order_pipeline``)."""

from __future__ import annotations

import argparse
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser

from graflow_celery.cli import main
from graflow_celery.contrib.django.project import celery_app

PROG = "manage.py graflow"
DJANGO_OPTIONS = ("--settings", "--pythonpath")  # read by manage.py before the command runs


class Command(BaseCommand):
    help = "Follow and steer workflow runs: runs, status RUN, watch RUN, cancel RUN, graph WORKFLOW."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, help="graflow-celery's arguments (--help)")

    def run_from_argv(self, argv: list[str]) -> None:
        """From a shell: exactly the command line's output and exit codes."""
        args = [a for a in argv[2:] if not a.startswith(DJANGO_OPTIONS)]
        main.main(args=args, prog_name=PROG, obj=celery_app())

    def handle(self, *args: Any, **options: Any) -> None:
        """From ``call_command``: output to ``stdout``/``stderr``; a non-zero exit is a
        ``CommandError`` carrying the exit code."""
        try:
            with redirect_stdout(self.stdout), redirect_stderr(self.stderr):
                main.main(args=list(args), prog_name=PROG, obj=celery_app(), standalone_mode=False)
        except click.ClickException as exc:
            raise CommandError(exc.format_message(), returncode=exc.exit_code) from exc
        except SystemExit as exc:
            if exc.code:
                raise CommandError(f"{PROG} {' '.join(args)}: exit code {exc.code}",
                                   returncode=int(exc.code)) from exc
