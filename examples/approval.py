"""A refund that waits for a person's approval on Celery workers - and no worker waits with it.

    celery -A examples.approval worker -l INFO     # in one shell (Redis on localhost:6379)
    python -m examples.approval                      # in another: submits, answers, waits

The demo answers the request itself, as a person would from the command line
(``graflow-celery --app examples.approval:app feedback list`` / ``feedback respond ID yes``)
or a web page (``graflow_celery.pending_feedback(app)`` / ``graflow_celery.respond(...)``).
"""

import os
import time

from celery import Celery

import graflow_celery
from graflow_celery import TaskContext, task, workflow

app = Celery("approval", broker=os.environ.get("GRAFLOW_BROKER_URL", "redis://127.0.0.1:6379/0"))
graflow_celery.install(app)


@task
def check_refund(amount: float) -> dict:
    return {"amount": amount, "needs_approval": amount > 100}


@task(inject_context=True)
def approve(ctx: TaskContext, check_refund: dict) -> bool:
    # On a worker this step parks until someone answers, then runs again from its start: code
    # above the request runs again, so keep it idempotent (here it only reads).
    if not check_refund["needs_approval"]:
        return True
    return ctx.request_approval(f"Refund {check_refund['amount']} EUR?", metadata=check_refund,
                                timeout=24 * 3600)


@task
def pay_out(check_refund: dict, approve: bool) -> str:
    return f"paid out {check_refund['amount']} EUR" if approve else "refund declined"


with workflow("refund") as refund:
    check_refund >> approve >> pay_out


def demo(amount: float = 120.0, answer: bool = True) -> str:
    run = graflow_celery.submit(refund, {"amount": amount}, app=app)
    while not (mine := [r for r in graflow_celery.pending_feedback(app) if r.run_id == run.id]):
        time.sleep(0.1)  # the worker parks the step in a moment
    request = mine[0]
    lines = [f"run {run.status()}: {request.prompt} ({request.feedback_id})"]
    graflow_celery.respond(request.feedback_id, answer, by="finance@example.com", app=app)
    lines.append(run.result(timeout=60))
    entry = run.feedback_history()[0]
    lines.append(f"answered {entry.value} by {entry.responded_by} at {entry.at}")
    return "\n".join(lines)


if __name__ == "__main__":
    from examples.approval import demo as imported_demo  # tasks by their importable path, not __main__

    print(imported_demo())
