"""A process of the example shop (its settings, its database), driven by a test one JSON line at
a time, so that the test can look at a run and at the database while a transaction is open:

- ``{"op": "begin", ...order}``: open a transaction, place an order, ``submit_on_commit`` its run;
  with ``"die_on_commit": true``, the process exits (``os._exit``) in the commit's callbacks,
  before the run's own callback starts it - as a web process killed right after a COMMIT;
- ``{"op": "commit"}`` / ``{"op": "rollback"}``: leave the transaction (a rollback as a view's
  exception does it);
- ``{"op": "submit", ...order}``: place an order and submit its run outside any transaction;
- ``{"op": "ask", "workflow": "questions", "hurry" or "guarded"}``: submit a workflow of
  ``asking.py``;
- ``{"op": "branches", "inputs": {...}}``: submit ``branching.py``'s workflow;
- ``{"op": "go", "run_id": ...}``: set "go" in a run's channel (a held task goes on);
- ``{"op": "respond", "feedback_id": ..., "value": ..., "by": ...}``: answer a request from Python
  (``run.respond``), as a script of the project would;
- ``{"op": "user", "username": ..., "password": ..., "groups": [...], "superuser": false}``: a
  user without any permission (a member of ``groups``, made if need be), or a superuser;
- ``{"op": "http", "path": ..., "method": "GET", "data": {...}, "username": ..., "settings":
  {...}}``: a request through Django's test client in this process, as that user (none:
  anonymous), with ``settings`` overridden for it: answered with ``http_status``, ``body`` and
  ``location``, or with what it raised (``raised``: the type's name, ``message``).

An order is ``item``, ``quantity``, ``price``, the run's extra ``inputs`` and its ``workflow``
(the shop's ``order_pipeline``, or ``counted`` of ``counting.py``). Each line is answered with
one JSON line: the order's id, the run's id, whether this process's connection sees the run's
outbox row, and the run's status as this process sees it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402  (after django.setup())
from django.contrib.auth.models import Group  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.workflows import order_pipeline  # noqa: E402

import graflow_celery  # noqa: E402
from graflow_celery.backends.celery.run import WorkflowRun  # noqa: E402
from graflow_celery.contrib.django import submit_on_commit  # noqa: E402
from graflow_celery.contrib.django.models import PendingStart  # noqa: E402
from graflow_celery.contrib.django.project import celery_app  # noqa: E402
from graflow_celery.core.run_feedback import run_of  # noqa: E402
from tests.django import asking, branching, counting  # noqa: E402


def place(command: dict[str, Any]) -> tuple[Order, Any]:
    order = Order.objects.create(item=command.get("item", "book"), quantity=command.get("quantity", 1),
                                 price=command.get("price", "9.95"), email="driver@example.com")
    flow = counting.counted if command.get("workflow") == "counted" else order_pipeline
    run = submit_on_commit(flow, {"order_id": order.pk, **command.get("inputs", {})})
    order.run_id = run.id
    order.save(update_fields=["run_id"])
    return order, run


def user(command: dict[str, Any]) -> None:
    make = get_user_model().objects.create_superuser if command.get("superuser") else \
        get_user_model().objects.create_user
    made = make(command["username"], password=command["password"])
    for name in command.get("groups", []):
        made.groups.add(Group.objects.get_or_create(name=name)[0])


def http(command: dict[str, Any]) -> dict[str, Any]:
    client = Client(SERVER_NAME="localhost")  # a host the shop allows; CSRF checks off
    if command.get("username"):
        client.force_login(get_user_model().objects.get(username=command["username"]))
    try:
        with override_settings(**command.get("settings", {})):
            if command.get("method", "GET") == "GET":
                response = client.get(command["path"])
            else:
                response = client.post(command["path"], command.get("data", {}))
    except Exception as exc:  # what the view raised, for the test to see
        return {"raised": type(exc).__name__, "message": str(exc)}
    return {"http_status": response.status_code, "body": response.content.decode(),
            "location": response.get("Location")}


def main() -> None:
    block: Any = None
    run: Any = None
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        reply: dict[str, Any] = {}
        if op in ("begin", "submit"):
            if op == "begin":
                block = transaction.atomic()
                block.__enter__()
                if command.get("die_on_commit"):  # registered first, so Django runs it first
                    transaction.on_commit(lambda: os._exit(1))
            order, run = place(command)
            reply = {"order_id": order.pk, "run_id": run.id,
                     "recorded": PendingStart.objects.filter(run_id=run.id).exists()}
        elif op == "ask":
            flow = getattr(asking, command.get("workflow", "questions"))
            run = graflow_celery.submit(flow, app=celery_app())
            reply = {"run_id": run.id}
        elif op == "branches":
            run = graflow_celery.submit(branching.branches, command.get("inputs", {}), app=celery_app())
            reply = {"run_id": run.id}
        elif op == "go":  # let a held task go on
            WorkflowRun(command["run_id"], app=celery_app()).get_channel().set("go", True)
            reply = {}
        elif op == "respond":
            run = WorkflowRun(run_of(command["feedback_id"]), app=celery_app())
            run.respond(command["feedback_id"], command["value"], by=command.get("by"))
        elif op == "user":
            user(command)
        elif op == "http":
            reply = http(command)
        elif op == "commit":
            block.__exit__(None, None, None)
        elif op == "rollback":
            error = RuntimeError("the view failed")
            block.__exit__(type(error), error, None)  # rolls back; the error is not swallowed
        else:
            raise ValueError(f"unknown op {op!r}")
        reply["status"] = run.status() if run is not None else None
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
