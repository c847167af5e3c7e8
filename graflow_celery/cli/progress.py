"""Progress of a run on the terminal: a lifecycle middleware for runs in this process, a line per
change of ``run.progress()`` for runs elsewhere."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from graflow_celery.core.events import Middleware, StepInfo, StepOutcomeKind


def interactive() -> bool:
    return sys.stdout.isatty()


class StepProgress(Middleware):
    """A line per finished step - or, on a terminal, a progress bar over the workflow's tasks
    (dynamic tasks make the total grow, so the bar may end short of full)."""

    def __init__(self, total: int, bar: bool) -> None:
        self.done = 0
        self._lock = threading.Lock()  # steps finish on the memory backend's worker threads
        self._bar: Any = click.progressbar(length=max(total, 1), label="steps",
                                           item_show_func=lambda s: s) if bar else None

    def __enter__(self) -> StepProgress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def step_finished(self, step: StepInfo, outcome: StepOutcomeKind, result: Any,
                      error: dict[str, Any] | None, exception: BaseException | None) -> None:
        with self._lock:
            self.done += 1
            if self._bar is not None:
                self._bar.update(1, f"{step.task_id} {outcome}")
            else:
                line = f"step {step.task_id} {outcome} ({self.done} done)"
                if error:
                    line += f": {error.get('message')}"
                click.echo(line)
