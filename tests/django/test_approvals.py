"""The approvals page and its JSON views over HTTP, against the live shop (``conftest.py``): who may
list and answer (the permission graflow.answer_feedback; a login first), CSRF, answers checked
against their request server-side, a second answer refused - each refusal changing nothing - and
an order over the limit waiting for a manager, then cancelled when rejected."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.django.conftest import Shop
from tests.django.test_shop import finished
from tests.support.wait import wait_for
from tests.support.web_client import Client

PAGE = "/workflows/feedback/"
API = "/workflows/api/feedback/"


def waiting(client: Client, run_id: str, task: str) -> dict[str, Any]:
    """The run's request made by ``task``, once it waits."""
    def found() -> dict[str, Any] | None:
        status, body = client.json(f"{API}?run={run_id}")
        assert status == 200, body
        return next((r for r in body["requests"] if r["task_id"] == task), None)

    return wait_for(f"{task} of run {run_id} to ask", found, 20)


def large_order(shop: Shop, item: str) -> tuple[int, str]:
    """An order over the approval limit: (order id, run id)."""
    placed = shop.driver("submit", item=item, price="150.00", quantity=1)
    return placed["order_id"], placed["run_id"]


def answer_url(feedback_id: str) -> str:
    return f"{API}{feedback_id}/answer/"


def test_only_users_with_the_permission_may_list_and_answer(shop, manager, clerk):
    order_id, run_id = large_order(shop, "sideboard")
    boss = shop.logged_in(manager)
    request = waiting(boss, run_id, "approve")
    fid = request["feedback_id"]

    anonymous = shop.client()
    status, headers, _ = anonymous.request("GET", PAGE)
    assert status == 302 and headers["Location"] == f"/accounts/login/?next={PAGE}"
    assert anonymous.json(API)[0] == 403
    assert anonymous.request("POST", PAGE, {"feedback_id": fid, "answer": "approve"})[0] == 302  # to login

    staff = shop.logged_in(clerk)
    status, _, body = staff.request("GET", PAGE)
    assert status == 403 and b"graflow.answer_feedback" in body
    assert staff.json(API)[0] == 403
    assert staff.request("POST", PAGE, {"feedback_id": fid, "answer": "approve"})[0] == 403
    status, body = staff.json(answer_url(fid), method="POST", data={"answer": "approve"})
    assert status == 403 and "graflow.answer_feedback" in body["error"]

    assert waiting(boss, run_id, "approve")["feedback_id"] == fid  # nothing was answered
    assert shop.order(order_id)["status"] == "awaiting_approval"
    status, _, page = boss.request("GET", PAGE)
    assert status == 200 and f'data-feedback="{fid}"'.encode() in page
    boss.json(answer_url(fid), method="POST", data={"answer": "approve"})
    assert finished(shop, run_id)["status"] == "completed"


def test_answers_need_the_csrf_token(shop, manager):
    _, run_id = large_order(shop, "wardrobe")
    boss = shop.logged_in(manager)
    fid = waiting(boss, run_id, "approve")["feedback_id"]
    assert boss.request("POST", PAGE, {"feedback_id": fid, "answer": "approve"}, csrf=False)[0] == 403
    assert boss.request("POST", answer_url(fid), {"answer": "approve"}, csrf=False)[0] == 403
    assert waiting(boss, run_id, "approve")["feedback_id"] == fid
    boss.json(answer_url(fid), method="POST", data={"answer": "reject"})
    assert finished(shop, run_id)["status"] == "completed"


def test_an_invalid_answer_is_refused_and_changes_nothing(shop, manager):
    run_id = shop.driver("ask")["run_id"]
    boss = shop.logged_in(manager)
    carrier = waiting(boss, run_id, "pick_carrier")
    assert (carrier["feedback_type"], carrier["options"]) == ("selection", ["post", "courier", "pickup"])
    fid = carrier["feedback_id"]

    # The form posted directly, with an option the select does not offer.
    status, _, page = boss.request("POST", PAGE, {"feedback_id": fid, "answer": "teleport"})
    html = page.decode()
    assert status == 400
    assert "Not answered: <q>Which carrier for the bulky parcel?</q>" in html
    assert "the answer must be one of [&#x27;post&#x27;, &#x27;courier&#x27;, &#x27;pickup&#x27;], " \
           "got &#x27;teleport&#x27;" in html
    status, body = boss.json(answer_url(fid), method="POST", data={"answer": "teleport"})
    assert (status, body["reason"]) == (400, "invalid")
    assert "must be one of ['post', 'courier', 'pickup']" in body["error"]

    tags = waiting(boss, run_id, "tag_order")["feedback_id"]
    status, body = boss.json(answer_url(tags), method="POST", data=[("answer", "gift"), ("answer", "gift")])
    assert status == 400 and "an option is chosen twice in ['gift', 'gift']" in body["error"]
    status, body = boss.json(answer_url(tags), method="POST", json_body={"value": ["gift", "heavy"]})
    assert status == 400 and "['heavy'] are not among the options" in body["error"]
    address = waiting(boss, run_id, "fix_address")["feedback_id"]
    assert boss.request("POST", PAGE, {"feedback_id": address, "answer": "[1, 2]"})[0] == 400

    for unknown in (f"{run_id}:999:0", "nosuchrun:1:0"):  # refused as a request one may not answer
        status, body = boss.json(answer_url(unknown), method="POST", data={"answer": "post"})
        assert (status, body["reason"]) == (403, "forbidden"), body
    status, _, page = boss.request("POST", PAGE, {"feedback_id": "not a request", "answer": "yes"})
    assert status == 404 and b"<strong>Not answered</strong>" in page  # no prompt to show

    status, body = boss.json(API + f"?run={run_id}")
    assert {r["task_id"] for r in body["requests"]} == \
        {"pick_carrier", "gift_note", "tag_order", "fix_address"}
    report = shop.client().json(f"/workflows/api/runs/{run_id}/")[1]
    assert report["feedback"]["history"] == [] and report["status"] == "waiting"
    shop.client().request("POST", f"/workflows/api/runs/{run_id}/cancel/")


def test_the_page_names_the_requests_beyond_its_limit(shop, manager):
    """So that its refreshing script does not take them for new ones (feedback_refresh.html)."""
    run_id = shop.driver("ask")["run_id"]
    boss = shop.logged_in(manager)
    ids = [waiting(boss, run_id, task)["feedback_id"]
           for task in ("pick_carrier", "gift_note", "tag_order", "fix_address")]
    status, _, page = boss.request("GET", f"{PAGE}?run={run_id}&limit=1")
    assert status == 200
    shown = re.findall(r'<article class="gf-request" data-feedback="([^"]+)"', page.decode())
    older = re.search(r'<script id="gf-older" type="application/json">(.*?)</script>', page.decode())
    assert len(shown) == 1 and older is not None
    assert sorted(shown + json.loads(older.group(1))) == sorted(ids)
    shop.client().request("POST", f"/workflows/api/runs/{run_id}/cancel/")


def test_a_second_answer_is_refused_and_a_rejected_order_cancelled(shop, manager):
    order_id, run_id = large_order(shop, "grand piano")
    boss = shop.logged_in(manager)
    request = waiting(boss, run_id, "approve")
    fid = request["feedback_id"]
    assert request["prompt"] == f"Approve order {order_id}: 1 x grand piano for 150.00 EUR?"
    assert request["metadata"] == \
        {"order": order_id, "amount": "150.00 EUR", "customer": "driver@example.com"}
    assert request["deadline"] is not None and request["workflow"] == "order_pipeline"
    report = shop.client().json(f"/workflows/api/runs/{run_id}/")[1]
    assert report["status"] == "waiting" and report["tasks"]["approve"] == "waiting"
    listed = shop.manage("graflow", "feedback", "list", "--run", run_id)
    assert listed.stdout.split()[:3] == [fid, "order_pipeline.approve", "approval"], listed.stderr

    status, body = boss.json(answer_url(fid), method="POST", data={"answer": "reject", "reason": "too dear"})
    assert status == 200
    assert (body["answered"]["approved"], body["answered"]["responded_by"]) == (False, "manager")
    status, _, page = boss.request("POST", PAGE, {"feedback_id": fid, "answer": "approve"})
    assert status == 409
    assert (f"feedback request {fid} is not waiting for an answer: it was answered already "
            "(by manager)").encode() in page
    status, body = boss.json(answer_url(fid), method="POST", data={"answer": "approve"})
    assert (status, body["reason"]) == (409, "answered")

    report = finished(shop, run_id)
    assert report["status"] == "completed"
    assert report["tasks"]["approve"] == "completed"
    assert {report["tasks"][t] for t in ("charge", "send_confirmation", "ship")} == {"skipped"}
    assert report["results"]["approve"] == {"approved": False, "by": "manager", "why": "too dear"}
    [entry] = report["feedback"]["history"]
    assert (entry["feedback_id"], entry["outcome"], entry["value"], entry["responded_by"], entry["reason"]) \
        == (fid, "answered", False, "manager", "too dear")
    row = shop.order(order_id)
    assert (row["status"], row["reviewed_by"], row["charged_at"], row["tracking"]) == \
        ("cancelled", "manager", None, "")


def test_an_answer_after_the_deadline_is_refused(shop, manager):
    run_id = shop.driver("ask", workflow="hurry")["run_id"]  # a deadline of one second
    report = finished(shop, run_id)
    assert (report["status"], report["result"]) == ("completed", "nothing added")
    [entry] = report["feedback"]["history"]
    assert (entry["outcome"], entry["responded_by"], entry["prompt"]) == \
        ("timed_out", None, "Anything to add, quickly?")
    boss = shop.logged_in(manager)
    status, _, page = boss.request("POST", PAGE, {"feedback_id": entry["feedback_id"], "answer": "late"})
    assert status == 409
    assert (f"feedback request {entry['feedback_id']} is not waiting for an answer: its deadline has "
            "passed").encode() in page
    status, _, page = shop.client().request("GET", f"/workflows/runs/{run_id}/")
    assert status == 200
    assert f'data-feedback="{entry["feedback_id"]}" data-outcome="timed_out"'.encode() in page
