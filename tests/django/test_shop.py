"""The example shop end to end (``conftest.py``: PostgreSQL, a private Redis, a real worker,
gunicorn): an order's run submitted on commit, a rollback discarding it, the JSON views and the
run page telling the truth, the recent-runs list, cancelling, and ``manage.py graflow``."""

from __future__ import annotations

import re
from typing import Any

from tests.django.conftest import Shop
from tests.support.wait import wait_for

ORDER_TASKS = ["reserve_stock", "approve", "charge_and_email", "charge", "send_confirmation", "ship"]


def finished(shop: Shop, run_id: str, timeout: float = 30) -> dict[str, Any]:
    client = shop.client()

    def report() -> dict[str, Any] | None:
        status, body = client.json(f"/workflows/api/runs/{run_id}/")
        assert status == 200, body
        return body if body["finished"] else None

    return wait_for(f"run {run_id} to finish", report, timeout)


def test_an_order_placed_through_the_view_runs_after_its_commit(shop):
    client = shop.client()
    status, headers, _ = client.request("POST", "/", {"item": "lamp", "quantity": "2", "price": "12.45"})
    assert status == 302
    run_id = re.fullmatch(r"/workflows/runs/([A-Za-z0-9_.-]+)/", headers["Location"])[1]
    report = finished(shop, run_id)
    assert report["status"] == "completed"
    assert report["tasks"] == dict.fromkeys(ORDER_TASKS, "completed")
    assert report["result"].startswith("TRK-")
    charged = report["results"]["charge"]
    assert charged["amount"] == "24.90"  # a Decimal, as DjangoJSONEncoder writes it
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", charged["charged_at"])  # a datetime
    assert report["results"]["reserve_stock"] == {"item": "lamp", "quantity": 2}


def test_submit_on_commit_is_pending_until_the_commit(shop):
    begun = shop.driver("begin", item="kettle", quantity=3)
    run_id, order_id = begun["run_id"], begun["order_id"]
    assert begun["status"] == "pending"
    client = shop.client()
    status, report = client.json(f"/workflows/api/runs/{run_id}/")
    assert status == 200 and report["status"] == "pending" and not report["finished"]
    assert report["tasks"] == dict.fromkeys(ORDER_TASKS, "pending")
    assert shop.order(order_id) is None  # not committed: nobody else sees the row yet
    assert shop.driver("commit")["status"] in ("running", "completed")
    report = finished(shop, run_id)
    assert report["status"] == "completed"
    # The first task read the committed row (what it returns comes from the row)...
    assert report["results"]["reserve_stock"] == {"item": "kettle", "quantity": 3}
    # ... and every step updated it.
    row = shop.order(order_id)
    assert row is not None
    assert (row["status"], row["emailed"], row["tracking"], row["run_id"]) == \
        ("shipped", True, f"TRK-{order_id:06d}", run_id)
    assert row["charged_at"] is not None


def test_a_rollback_discards_the_run(shop):
    begun = shop.driver("begin", item="vase")
    assert shop.driver("rollback")["status"] == "discarded"
    client = shop.client()
    status, report = client.json(f"/workflows/api/runs/{begun['run_id']}/")
    assert status == 200
    assert report["status"] == "discarded" and report["finished"]
    assert report["tasks"] == dict.fromkeys(ORDER_TASKS, "skipped")
    assert report["error"]["type"] == "WorkflowDiscardedError"
    assert "rolled back" in report["error"]["message"]
    assert shop.order(begun["order_id"]) is None
    status, _, page = client.request("GET", f"/workflows/runs/{begun['run_id']}/")
    assert status == 200 and b'data-state="discarded"' in page


def test_a_failed_run_reports_its_error_without_a_traceback(shop):
    submitted = shop.driver("submit", item="chair", quantity=50)  # more than the stock
    report = finished(shop, submitted["run_id"])
    assert report["status"] == "failed"
    assert report["tasks"] == {"reserve_stock": "failed", "approve": "skipped", "charge_and_email": "skipped",
                               "charge": "skipped", "send_confirmation": "skipped", "ship": "skipped"}
    assert report["error"] == {"type": "TaskError", "task_id": "reserve_stock",
                               "message": "task 'reserve_stock' failed: OutOfStock: only 10 of 'chair' "
                                          "in stock, 50 ordered"}
    status, _, page = shop.client().request("GET", f"/workflows/runs/{submitted['run_id']}/")
    assert status == 200
    html = page.decode()
    assert 'data-task="reserve_stock" data-state="failed"' in html
    assert "OutOfStock" in html and "Traceback" not in html


def test_cancel_is_a_post_with_csrf_and_stops_the_run(shop):
    submitted = shop.driver("submit", item="piano", inputs={"payment_delay": 3})
    run_id = submitted["run_id"]
    client = shop.client()
    wait_for("charge to be running", lambda: client.json(f"/workflows/api/runs/{run_id}/")[1]["tasks"]
             ["charge"] == "executing", timeout=20)
    assert client.request("GET", f"/workflows/api/runs/{run_id}/cancel/")[0] == 405
    assert client.request("POST", f"/workflows/api/runs/{run_id}/cancel/", csrf=False)[0] == 403
    status, body = client.json(f"/workflows/api/runs/{run_id}/cancel/", method="POST")
    assert (status, body) == (200, {"id": run_id, "cancelled": True, "status": "cancelled"})
    status, body = client.json(f"/workflows/api/runs/{run_id}/cancel/", method="POST")
    assert (status, body["cancelled"], body["status"]) == (409, False, "cancelled")
    report = finished(shop, run_id)
    assert report["status"] == "cancelled"
    assert report["tasks"]["ship"] == "skipped"
    assert report["error"]["type"] == "WorkflowCancelledError"
    wait_for("charge's function to return", lambda: shop.order(submitted["order_id"])["status"] == "charged",
             timeout=20)
    assert shop.order(submitted["order_id"])["tracking"] == ""  # ship never ran


def test_recent_runs_newest_first(shop):
    ids = [shop.driver("submit", item=f"item{i}")["run_id"] for i in range(3)]
    client = shop.client()
    status, body = client.json("/workflows/api/runs/?limit=3")
    assert status == 200
    assert [r["id"] for r in body["runs"]] == ids[::-1]
    assert {r["workflow"] for r in body["runs"]} == {"order_pipeline"}
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert all(re.fullmatch(stamp, r["submitted_at"]) for r in body["runs"])
    assert client.json("/workflows/api/runs/?limit=0")[0] == 400
    status, _, page = client.request("GET", "/workflows/runs/")
    assert status == 200 and all(f'data-run="{run_id}"' in page.decode() for run_id in ids)
    for run_id in ids:
        finished(shop, run_id)


def test_unknown_runs_are_404(shop):
    client = shop.client()
    status, body = client.json("/workflows/api/runs/nosuchrun/")
    assert status == 404 and "unknown or expired" in body["error"]
    assert client.request("GET", "/workflows/runs/nosuchrun/")[0] == 404
    assert client.request("GET", "/workflows/api/runs/not%20a%20run/")[0] == 404  # not a run id at all


def test_the_management_command(shop):
    submitted = shop.driver("submit", item="desk")
    run_id = submitted["run_id"]
    watched = shop.manage("graflow", "watch", run_id)
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1] == f'completed: "TRK-{submitted["order_id"]:06d}"'
    status = shop.manage("graflow", "status", run_id, "--tasks")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].split() == [run_id, "order_pipeline", "completed", "7/7"]
    assert sorted(lines[1:]) == sorted(f"  {task} completed" for task in ORDER_TASKS)
    runs = shop.manage("graflow", "runs", "--limit", "1")
    assert runs.stdout.split()[:3] == [run_id, "order_pipeline", "completed"]
    graph = shop.manage("graflow", "graph", "order_pipeline", "--format", "ascii")  # by name alone
    assert graph.stdout.splitlines() == ["order_pipeline", "  reserve_stock", "    -> approve",
                                         "      -> charge_and_email [charge | send_confirmation]",
                                         "        -> ship"]
    slow = shop.driver("submit", item="sofa", inputs={"payment_delay": 3})["run_id"]
    assert shop.manage("graflow", "cancel", slow).returncode == 0
    assert shop.manage("graflow", "watch", slow).returncode == 2
    again = shop.manage("graflow", "cancel", slow)
    assert again.returncode == 1 and "already ended" in again.stderr
    unknown = shop.manage("graflow", "status", "nosuchrun")
    assert unknown.returncode == 2 and "unknown run" in unknown.stderr
