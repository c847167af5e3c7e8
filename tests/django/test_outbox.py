"""The outbox of ``submit_on_commit`` (``contrib/django/outbox.py``) in the example shop, for real:
a web process killed after its COMMIT and before the commit's callback started the run - the run
is started by a worker's sweep once the grace period is over (seconds here, ``conftest.py``), or by
``manage.py graflow start-pending``; a rollback leaves no row; a commit starts the run once and
leaves no row; a transaction open past the grace period is not started before its commit."""

from __future__ import annotations

from typing import Any

import redis

from tests.django.conftest import OUTBOX_GRACE as GRACE
from tests.django.conftest import Driver, Shop
from tests.django.counting import first_task_key
from tests.django.test_shop import finished
from tests.support.wait import wait_for

SWEPT = GRACE + GRACE / 2 * 1.2 + 5  # seconds: the grace, a worker's longest wait between passes, slack


def outbox(shop: Shop) -> set[str]:
    """The run ids of the outbox's committed rows."""
    with shop.db.connect() as conn:  # type: ignore[attr-defined]
        return {row[0] for row in conn.execute("SELECT run_id FROM graflow_pendingstart").fetchall()}


def first_task_runs(shop: Shop, order_id: int) -> int:
    return int(redis.Redis.from_url(shop.redis.url).get(first_task_key(order_id)) or 0)


def status(shop: Shop, run_id: str) -> str:
    code, report = shop.client().json(f"/workflows/api/runs/{run_id}/")
    assert code == 200, report
    return report["status"]  # type: ignore[no-any-return]


def killed_after_commit(shop: Shop, **order: Any) -> dict[str, Any]:
    """A process of the shop places an order and submits its run on commit, commits - and dies
    in the commit's callbacks, before the run's own callback could start it."""
    driver = Driver(shop.env)
    begun = driver("begin", die_on_commit=True, **order)
    assert begun["recorded"] and begun["status"] == "pending"
    assert driver.exits("commit") == 1
    assert shop.order(begun["order_id"]) is not None  # the order committed...
    return begun


def test_a_run_whose_process_died_after_the_commit_is_started_by_a_workers_sweep(shop):
    begun = killed_after_commit(shop, item="lamp", quantity=2)
    run_id, order_id = begun["run_id"], begun["order_id"]
    assert status(shop, run_id) == "pending"  # ... and nothing started its run
    assert run_id in outbox(shop)
    wait_for("a worker's sweep to start the run", lambda: status(shop, run_id) != "pending", SWEPT)
    report = finished(shop, run_id)
    assert report["status"] == "completed"
    assert report["results"]["reserve_stock"] == {"item": "lamp", "quantity": 2}  # the committed row
    assert shop.order(order_id)["status"] == "shipped"
    assert run_id not in outbox(shop)


def test_a_rollback_discards_the_run_and_leaves_no_row(shop):
    begun = shop.driver("begin", workflow="counted", item="vase")
    assert begun["recorded"]  # in the transaction...
    assert begun["run_id"] not in outbox(shop)  # ... which nobody else sees
    assert shop.driver("rollback")["status"] == "discarded"
    assert begun["run_id"] not in outbox(shop)
    assert status(shop, begun["run_id"]) == "discarded"


def test_a_commit_starts_the_run_once_and_leaves_no_row(shop):
    begun = shop.driver("begin", workflow="counted", item="mug")
    assert begun["recorded"]
    assert shop.driver("commit")["status"] in ("running", "completed")
    assert begun["run_id"] not in outbox(shop)  # deleted by the callback, right after the start
    report = finished(shop, begun["run_id"])
    assert (report["status"], report["result"]) == ("completed", "mug")
    assert first_task_runs(shop, begun["order_id"]) == 1


def test_a_transaction_open_past_the_grace_period_starts_only_at_its_commit(shop):
    held = shop.driver("begin", workflow="counted", item="clock")  # held open by the shared driver
    # A run whose process died, submitted after the held one: once a sweep has started it, a sweep
    # has looked for rows older than the held one's, past the grace period.
    witness = killed_after_commit(shop, workflow="counted", item="bell")
    wait_for("a worker's sweep to start the other run", lambda: status(shop, witness["run_id"]) != "pending",
             SWEPT)
    assert status(shop, held["run_id"]) == "pending"  # its row is invisible until it commits
    assert first_task_runs(shop, held["order_id"]) == 0
    assert shop.driver("commit")["status"] in ("running", "completed")  # its callback starts it
    report = finished(shop, held["run_id"])
    assert (report["status"], report["result"]) == ("completed", "clock")
    # Its row was past the grace period when it committed: a sweep may have found it too. Once.
    assert first_task_runs(shop, held["order_id"]) == 1
    assert finished(shop, witness["run_id"])["result"] == "bell"
    assert first_task_runs(shop, witness["order_id"]) == 1
    assert not {held["run_id"], witness["run_id"]} & outbox(shop)


def test_the_management_command_starts_a_committed_run_that_never_started(shop):
    begun = killed_after_commit(shop, item="stool")
    # Well within the workers' grace period: the command finds the row first.
    started = shop.manage("graflow", "start-pending", "--grace", "0")
    assert started.returncode == 0, started.stderr
    assert f"{begun['run_id']} started" in started.stdout.splitlines()
    assert "died after the commit?" in started.stderr  # the warning, logged
    assert begun["run_id"] not in outbox(shop)
    report = finished(shop, begun["run_id"])
    assert report["status"] == "completed" and report["result"] == f"TRK-{begun['order_id']:06d}"
    again = shop.manage("graflow", "start-pending", "--grace", "0")
    assert again.returncode == 0 and begun["run_id"] not in again.stdout
