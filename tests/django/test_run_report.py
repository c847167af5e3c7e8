"""``run_report`` (the JSON view's body and the run page's data) reads a run's task states, then
its status: a run that ends between the two reads is reported with its tasks as it ended - not
"failed" with its failed step still executing and the rest pending (a race the run page and the
shop's tests met). Nothing here needs the shop: the run is a stand-in that ends on cue."""

from __future__ import annotations

from typing import Any

from graflow_celery.contrib.django.report import run_report
from graflow_celery.core.progress import Progress
from graflow_celery.errors import TaskError


class RunEndingMidReport:
    """A run handle whose run fails just after its task states are first read."""

    id, name = "endsmidreport", "two_steps"

    def __init__(self) -> None:
        self.failed = False

    def task_states(self) -> dict[str, str]:
        states = {"first": "failed", "second": "skipped"} if self.failed else \
            {"first": "executing", "second": "pending"}
        self.failed = True  # the step's failure is applied right after this read
        return states

    def status(self) -> str:
        return "failed" if self.failed else "running"

    def progress(self) -> Progress:
        return Progress(1, 1) if self.failed else Progress(0, 2)

    def pending_feedback(self) -> list[Any]:
        return []

    def feedback_history(self) -> list[Any]:
        return []

    def results(self) -> dict[str, Any]:
        return {}

    def result(self, timeout: float | None = None) -> Any:
        raise TaskError("first", "OutOfStock", "none left")


def test_a_run_that_ends_while_it_is_read_is_reported_as_it_ended():
    report = run_report(RunEndingMidReport())  # type: ignore[arg-type]
    assert (report["status"], report["finished"]) == ("failed", True)
    assert report["tasks"] == {"first": "failed", "second": "skipped"}
    assert report["error"]["task_id"] == "first"
