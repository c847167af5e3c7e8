"""Who sees and answers which request for feedback, over HTTP against the live shop (``conftest.py``):
an order over 1000 EUR names the permission orders.approve_large_order in its request's
metadata (``permission_required``), so a manager with graflow.answer_feedback alone neither sees
nor answers it - refused as a request that does not exist, nothing changed - while one with both
does; a list of permissions needs all of them, a malformed one only a superuser; and a function
named by CELERY_GRAFLOW_FEEDBACK_ACCESS decides instead (through Django's test client in a process
of the shop, ``driver.py``, with the setting overridden), a bad one being ImproperlyConfigured."""

from __future__ import annotations

import json
from typing import Any

from tests.django.conftest import Shop, User
from tests.django.test_approvals import API, PAGE, answer_url, large_order, waiting
from tests.django.test_shop import finished

SETTING = "CELERY_GRAFLOW_FEEDBACK_ACCESS"
BY_TEAM = {SETTING: "tests.django.access_rules.by_team"}


def larger_order(shop: Shop, item: str) -> tuple[int, str]:
    """An order over 1000 EUR: (order id, run id)."""
    placed = shop.driver("submit", item=item, price="1500.00", quantity=1)
    return placed["order_id"], placed["run_id"]


def ids_on(page: bytes) -> set[str]:
    text = page.decode()
    return {part.split('"', 1)[0] for part in text.split('<article class="gf-request" data-feedback="')[1:]}


def listed(client: Any, query: str = "") -> set[str]:
    status, body = client.json(f"{API}?limit=1000{query}")
    assert status == 200, body
    return {r["feedback_id"] for r in body["requests"]}


def test_a_request_naming_a_permission_is_seen_and_answered_only_with_it(shop, manager, senior):
    _, plain_run = large_order(shop, "bookcase")  # 150 EUR: graflow.answer_feedback is enough
    order_id, run_id = larger_order(shop, "vintage car")
    seniors = shop.logged_in(senior)
    request = waiting(seniors, run_id, "approve")
    fid, prompt = request["feedback_id"], request["prompt"]
    assert request["metadata"]["permission_required"] == "orders.approve_large_order"
    boss = shop.logged_in(manager)
    plain = waiting(boss, plain_run, "approve")["feedback_id"]

    # The manager does not see it: not listed, not on the page, no link from its run page.
    assert plain in listed(boss) and fid not in listed(boss)
    assert listed(boss, f"&run={run_id}") == set()
    for path in (PAGE, f"{PAGE}?run={run_id}"):
        status, _, page = boss.request("GET", path)
        assert status == 200 and fid not in ids_on(page) and prompt.encode() not in page
    assert plain in ids_on(boss.request("GET", PAGE)[2])
    assert b'id="gf-answer-link"' not in boss.request("GET", f"/workflows/runs/{run_id}/")[2]
    assert b'id="gf-answer-link"' in seniors.request("GET", f"/workflows/runs/{run_id}/")[2]

    # Nor may they answer it: refused as a request that does not exist, whichever way.
    status, body = boss.json(answer_url(fid), method="POST", data={"answer": "approve"})
    assert (status, body["reason"]) == (403, "forbidden")
    nothing = f"{run_id}:999:0"
    status, none = boss.json(answer_url(nothing), method="POST", data={"answer": "approve"})
    assert status == 403 and none == {"error": body["error"].replace(fid, nothing), "reason": "forbidden"}
    status, _, page = boss.request("POST", PAGE, {"feedback_id": fid, "answer": "approve"})
    assert status == 403 and prompt.encode() not in page
    assert (f"you may not answer feedback request {fid}, or there is no such request").encode() in page
    assert waiting(seniors, run_id, "approve")["feedback_id"] == fid  # nothing changed
    assert shop.order(order_id)["status"] == "awaiting_approval"

    # The senior manager answers it; the manager still learns nothing of it.
    status, body = seniors.json(answer_url(fid), method="POST", data={"answer": "approve"})
    assert status == 200 and body["answered"]["responded_by"] == "senior"
    assert finished(shop, run_id)["status"] == "completed"
    row = shop.order(order_id)
    assert (row["status"], row["reviewed_by"]) == ("shipped", "senior")
    status, body = boss.json(answer_url(fid), method="POST", data={"answer": "reject"})
    assert (status, body["reason"]) == (403, "forbidden")  # not 409 "answered already (by senior)"
    assert b'id="gf-answered"' not in boss.request("GET", f"{PAGE}?answered={fid}")[2]
    assert b'id="gf-answered"' in seniors.request("GET", f"{PAGE}?answered={fid}")[2]

    status, body = boss.json(answer_url(plain), method="POST", data={"answer": "approve"})
    assert status == 200 and body["answered"]["responded_by"] == "manager"
    assert finished(shop, plain_run)["status"] == "completed"


def test_a_list_of_permissions_needs_them_all_and_a_malformed_one_a_superuser(shop, senior, root):
    run_id = shop.driver("ask", workflow="guarded")["run_id"]
    admin = shop.logged_in(root)
    both = waiting(admin, run_id, "two_keys")["feedback_id"]  # orders.approve_large_order and change_order
    odd = waiting(admin, run_id, "odd_key")["feedback_id"]  # "permission_required": 5
    seniors = shop.logged_in(senior)  # orders.approve_large_order, not orders.change_order
    assert listed(seniors, f"&run={run_id}") == set()
    for fid in (both, odd):
        assert seniors.json(answer_url(fid), method="POST", data={"answer": "yes"})[0] == 403
    for fid in (both, odd):
        assert admin.json(answer_url(fid), method="POST", data={"answer": "yes"})[0] == 200
    report = finished(shop, run_id)
    assert report["status"] == "completed"
    assert [e["responded_by"] for e in report["feedback"]["history"]] == ["root", "root"]


def through_django(shop: Shop, path: str, user: User | None, settings: dict[str, str] | None = None,
                   **request: Any) -> dict[str, Any]:
    """A request through Django's test client in a process of the shop (``driver.py``)."""
    return shop.driver("http", path=path, username=user.name if user else None, settings=settings or {},
                       **request)


def test_a_function_in_the_setting_decides_who_answers_what(shop, manager, support, clerk):
    run_id = shop.driver("ask")["run_id"]
    boss = shop.logged_in(manager)
    ids = {task: waiting(boss, run_id, task)["feedback_id"]
           for task in ("pick_carrier", "gift_note", "tag_order", "fix_address")}

    def tasks(user: User) -> list[str]:
        reply = through_django(shop, f"{API}?run={run_id}", user, BY_TEAM)
        assert reply["http_status"] == 200, reply
        return sorted(r["task_id"] for r in json.loads(reply["body"])["requests"])

    # Without the setting the support team, holding no permission, may not use the page.
    assert through_django(shop, API, support)["http_status"] == 403
    assert tasks(support) == ["fix_address"]
    assert tasks(manager) == ["gift_note", "pick_carrier", "tag_order"]  # the permission is not enough
    page = through_django(shop, f"{PAGE}?run={run_id}", support, BY_TEAM)
    assert page["http_status"] == 200
    assert ids_on(page["body"].encode()) == {ids["fix_address"]}
    run_page = f"/workflows/runs/{run_id}/"
    assert 'id="gf-answer-link"' in through_django(shop, run_page, support, BY_TEAM)["body"]
    assert 'id="gf-answer-link"' not in through_django(shop, run_page, clerk, BY_TEAM)["body"]

    refused = through_django(shop, answer_url(ids["pick_carrier"]), support, BY_TEAM, method="POST",
                             data={"answer": "post"})
    assert refused["http_status"] == 403 and json.loads(refused["body"])["reason"] == "forbidden"
    refused = through_django(shop, answer_url(ids["fix_address"]), manager, BY_TEAM, method="POST",
                             data={"answer": '{"street": "Elm St 2"}'})
    assert refused["http_status"] == 403
    clerks = through_django(shop, PAGE, clerk, BY_TEAM)  # in no team: not the page at all
    assert (clerks["http_status"], clerks["body"]) == (403, "you may not answer requests for feedback")
    anonymous = through_django(shop, PAGE, None, BY_TEAM)
    assert (anonymous["http_status"], anonymous["location"]) == (302, f"/accounts/login/?next={PAGE}")
    assert listed(boss, f"&run={run_id}") == set(ids.values())  # nothing answered

    answered = through_django(shop, PAGE, support, BY_TEAM, method="POST",
                              data={"feedback_id": ids["fix_address"], "answer": '{"street": "Elm St 2"}'})
    assert answered["http_status"] == 302, answered
    [entry] = shop.client().json(f"/workflows/api/runs/{run_id}/")[1]["feedback"]["history"]
    assert (entry["task_id"], entry["value"], entry["responded_by"]) == \
        ("fix_address", {"street": "Elm St 2"}, "support")
    shop.client().request("POST", f"/workflows/api/runs/{run_id}/cancel/")


def test_a_bad_setting_is_an_error_naming_it(shop, manager):
    for value, says in (("no.such.module.rule", "cannot be imported"),
                        ("tests.django.asking.CARRIERS", "is not a function")):
        for path, method in ((PAGE, "GET"), (API, "GET"), (answer_url("somerun:1:0"), "POST")):
            reply = through_django(shop, path, manager, {SETTING: value}, method=method,
                                   data={"answer": "yes"})
            assert reply.get("raised") == "ImproperlyConfigured", (path, reply)
            assert reply["message"].startswith(f"{SETTING} = {value!r} {says}"), reply
