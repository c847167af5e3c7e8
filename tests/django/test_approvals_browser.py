"""The approvals page in headless Chromium, as a manager uses it: signing in when sent to the login
page, a large order's run waiting for a person on its run page, approved by a click, the run
completing and the order shipped, the answer in the run page's audit trail; a stale form's second
answer refused with a message; selections, text, multi-selections and JSON answered in their own
forms; the page, left open, showing a new request and greying out one answered elsewhere while a
form half filled in keeps its text; an order over 1000 EUR, whose request names a second
permission, shown only to a manager who has it, and approved by them with a click. Screenshots are
saved (``tests/support/browser.py``)."""

from __future__ import annotations

import re
from typing import Any

from tests.django.conftest import Shop, User
from tests.django.test_approvals import PAGE, answer_url, large_order, waiting
from tests.django.test_feedback_access import larger_order
from tests.django.test_run_page_browser import box, png_size, state_of
from tests.django.test_shop import finished
from tests.support.browser import screenshot


def sign_in(page: Any, shop: Shop, user: User) -> None:
    """Open the approvals page: sent to the login form, signed in, sent back."""
    from playwright.sync_api import expect

    page.goto(shop.base + PAGE)
    expect(page).to_have_url(f"{shop.base}/accounts/login/?next={PAGE}")
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(shop.base + PAGE)


def card(page: Any, feedback_id: str) -> Any:
    return page.locator(f'article[data-feedback="{feedback_id}"]')


def test_a_manager_approves_a_large_order_by_clicking(shop, manager, page):
    from playwright.sync_api import expect

    order_id, run_id = large_order(shop, "rocking chair")
    prompt = f"Approve order {order_id}: 1 x rocking chair for 150.00 EUR?"
    fid = waiting(shop.logged_in(manager), run_id, "approve")["feedback_id"]
    questions = shop.driver("ask")["run_id"]  # other kinds on the page too, for the screenshot
    waiting(shop.logged_in(manager), questions, "fix_address")

    run_page = page  # kept open: it follows the run while the manager answers in another tab
    run_page.goto(f"{shop.base}/workflows/runs/{run_id}/")
    expect(run_page.locator("#gf-status")).to_have_text("waiting")
    assert state_of(run_page, "approve") == ("waiting", "WAITING FOR A PERSON")
    assert state_of(run_page, "charge") == ("pending", "PENDING")
    expect(run_page.locator(f'#gf-waiting li[data-feedback="{fid}"]')).to_contain_text(prompt)
    screenshot(run_page, "run-page-waiting")

    approvals = page.context.new_page()
    sign_in(approvals, shop, manager)
    request = card(approvals, fid)
    expect(request.locator(".gf-prompt")).to_have_text(prompt)
    facts = request.locator(".gf-facts").inner_text()
    assert "order_pipeline" in facts and run_id in facts and "approve" in facts and "150.00 EUR" in facts
    assert request.get_attribute("data-type") == "approval"
    assert approvals.locator("article.gf-request").count() >= 5  # the approval and the four questions
    shot = screenshot(approvals, "approvals-page")
    width, height = png_size(shot)
    assert width >= 1000 and height >= 800, (width, height)

    request.get_by_label("Note").fill("regular customer")
    request.get_by_role("button", name="Approve").click()
    expect(approvals.locator("#gf-answered")).to_contain_text(
        f"Answered {prompt}: approved by manager (regular customer)")
    assert card(approvals, fid).count() == 0
    screenshot(approvals, "approvals-page-answered")

    # The run page, polling, draws itself again with the answer, and follows the run to its end.
    line = run_page.locator(f'#gf-answers tr[data-feedback="{fid}"]')
    expect(line).to_be_visible(timeout=20_000)
    expect(run_page.locator("#gf-status")).to_have_text("completed", timeout=20_000)
    expect(box(run_page, "ship")).to_have_attribute("data-state", "completed")
    assert state_of(run_page, "approve") == ("completed", "DONE")
    assert run_page.locator("#gf-waiting").is_hidden()
    cells = line.locator("td").all_inner_texts()
    assert cells[1:] == ["approve", prompt, "approved", "manager", "regular customer"]
    assert cells[0].endswith(" UTC")
    screenshot(run_page, "run-page-answered")
    row = shop.order(order_id)
    assert (row["status"], row["reviewed_by"], row["tracking"]) == \
        ("shipped", "manager", f"TRK-{order_id:06d}")
    shop.client().request("POST", f"/workflows/api/runs/{questions}/cancel/")


def test_a_stale_form_is_refused_with_a_message(shop, manager, page):
    from playwright.sync_api import expect

    order_id, run_id = large_order(shop, "chandelier")
    boss = shop.logged_in(manager)
    fid = waiting(boss, run_id, "approve")["feedback_id"]
    sign_in(page, shop, manager)
    expect(card(page, fid)).to_be_visible()
    # someone else answers first
    assert boss.json(answer_url(fid), method="POST", data={"answer": "reject"})[0] == 200

    card(page, fid).get_by_role("button", name="Approve").click()
    expect(page.locator("#gf-refused strong")).to_have_text(
        f"Not answered: Approve order {order_id}: 1 x chandelier for 150.00 EUR?")
    expect(page.locator("#gf-refused-why")).to_have_text(
        f"feedback request {fid} is not waiting for an answer: it was answered already (by manager)")
    screenshot(page, "approvals-page-refused")
    assert finished(shop, run_id)["status"] == "completed"
    assert shop.order(order_id)["status"] == "cancelled"  # rejected, as answered first


def test_each_kind_of_question_is_answered_in_its_own_form(shop, manager, page):
    from playwright.sync_api import expect

    run_id = shop.driver("ask")["run_id"]
    boss = shop.logged_in(manager)
    ids = {task: waiting(boss, run_id, task)["feedback_id"]
           for task in ("pick_carrier", "gift_note", "tag_order", "fix_address")}
    sign_in(page, shop, manager)
    page.goto(f"{shop.base}{PAGE}?run={run_id}")
    assert page.locator("article.gf-request").count() == 4

    carrier = card(page, ids["pick_carrier"])
    expect(carrier.get_by_label("Choice").locator("option")).to_have_text(["post", "courier", "pickup"])
    carrier.get_by_label("Choice").select_option("courier")
    carrier.get_by_role("button", name="Answer").click()
    expect(page.locator("#gf-answered")).to_contain_text("courier by manager")

    note = card(page, ids["gift_note"])
    note.get_by_label("Answer").fill("Happy birthday, Ann!")
    note.get_by_role("button", name="Answer").click()
    expect(page.locator("#gf-answered")).to_contain_text("Happy birthday, Ann! by manager")

    tags = card(page, ids["tag_order"])
    tags.get_by_label("gift").check()
    tags.get_by_label("express").check()
    tags.get_by_role("button", name="Answer").click()
    expect(page.locator("#gf-answered")).to_contain_text("gift, express by manager")

    address = card(page, ids["fix_address"])
    address.get_by_label("Answer (a JSON object)").fill('{"street": "Main St 10"}')
    address.get_by_role("button", name="Answer").click()
    expect(page.locator("#gf-answered")).to_contain_text("street: Main St 10 by manager")
    expect(page.locator("#gf-none")).to_be_visible()
    assert page.url.startswith(f"{shop.base}{PAGE}?run={run_id}&answered=")  # still this run's requests

    report = finished(shop, run_id)
    assert report["status"] == "completed"
    assert {t: report["results"][t] for t in ids} == {
        "pick_carrier": "courier", "gift_note": "Happy birthday, Ann!", "tag_order": ["gift", "express"],
        "fix_address": {"street": "Main St 10"}}
    assert [e["responded_by"] for e in report["feedback"]["history"]] == ["manager"] * 4


def test_the_page_left_open_follows_the_requests_and_keeps_what_is_typed(shop, manager, page):
    from playwright.sync_api import expect

    questions = shop.driver("ask")["run_id"]
    boss = shop.logged_in(manager)
    carrier = waiting(boss, questions, "pick_carrier")["feedback_id"]
    note = waiting(boss, questions, "gift_note")["feedback_id"]
    sign_in(page, shop, manager)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.evaluate("window.drawnOnce = true")  # gone if the page were loaded again
    typing = card(page, note)
    typing.get_by_label("Answer").fill("Happy birth")  # half written, not sent
    typing.get_by_label("Note").fill("ask Ann")

    order_id, run_id = large_order(shop, "grandfather clock")
    fid = waiting(boss, run_id, "approve")["feedback_id"]
    arrived = card(page, fid)
    expect(arrived.locator(".gf-prompt")).to_have_text(
        f"Approve order {order_id}: 1 x grandfather clock for 150.00 EUR?")
    assert page.locator("article.gf-request").first.get_attribute("data-feedback") == fid  # newest first

    shop.driver("respond", feedback_id=carrier, value="post", by="script")  # run.respond, from Python
    answered = card(page, carrier)
    expect(answered).to_have_class(re.compile(r"\bgf-gone\b"))
    expect(answered.locator(".gf-gone-note")).to_have_text(
        "No longer waiting: answered elsewhere, timed out, or its run is over.")
    expect(answered.get_by_role("button", name="Answer")).to_be_disabled()
    expect(answered.get_by_label("Choice")).to_be_disabled()

    for _ in range(2):  # two more refreshes: the half-written form is left alone
        with page.expect_request(lambda request: "/workflows/api/feedback/" in request.url, timeout=10_000):
            pass
    assert typing.get_by_label("Answer").input_value() == "Happy birth"
    assert typing.get_by_label("Note").input_value() == "ask Ann"
    assert typing.get_by_role("button", name="Answer").is_enabled()
    assert page.evaluate("window.drawnOnce") is True
    assert page.url == shop.base + PAGE
    screenshot(page, "approvals-page-refreshed")

    arrived.get_by_label("Note").fill("seen it arrive")  # the card added by the page answers as any
    arrived.get_by_role("button", name="Approve").click()
    expect(page.locator("#gf-answered")).to_contain_text("approved by manager (seen it arrive)")
    assert finished(shop, run_id)["status"] == "completed"
    assert shop.order(order_id)["status"] == "shipped"
    assert all(url.startswith(shop.base + "/") for url in requested), requested
    shop.client().request("POST", f"/workflows/api/runs/{questions}/cancel/")


def test_a_request_naming_a_permission_shows_only_to_who_has_it(shop, manager, senior, page):
    from playwright.sync_api import expect

    _, plain_run = large_order(shop, "armchair")
    order_id, run_id = larger_order(shop, "concert harp")
    prompt = f"Approve order {order_id}: 1 x concert harp for 1500.00 EUR?"
    seniors = shop.logged_in(senior)
    plain = waiting(seniors, plain_run, "approve")["feedback_id"]
    guarded = waiting(seniors, run_id, "approve")["feedback_id"]

    sign_in(page, shop, manager)  # graflow.answer_feedback, not orders.approve_large_order
    expect(card(page, plain)).to_be_visible()
    assert card(page, guarded).count() == 0 and prompt not in page.content()
    with page.expect_response(lambda response: "/workflows/api/feedback/" in response.url, timeout=10_000):
        pass  # the page refreshing itself does not add it either
    assert card(page, guarded).count() == 0
    screenshot(page, "approvals-page-without-the-permission")

    other = page.context.browser.new_context(viewport={"width": 1100, "height": 800})  # its own cookies
    try:
        approvals = other.new_page()
        sign_in(approvals, shop, senior)
        expect(card(approvals, plain)).to_be_visible()
        request = card(approvals, guarded)
        expect(request.locator(".gf-prompt")).to_have_text(prompt)
        expect(request.locator(".gf-facts")).to_contain_text("orders.approve_large_order")
        screenshot(approvals, "approvals-page-with-the-permission")
        request.get_by_role("button", name="Approve").click()
        expect(approvals.locator("#gf-answered")).to_contain_text(f"Answered {prompt}: approved by senior")
    finally:
        other.close()
    assert finished(shop, run_id)["status"] == "completed"
    row = shop.order(order_id)
    assert (row["status"], row["reviewed_by"]) == ("shipped", "senior")
    assert seniors.json(answer_url(plain), method="POST", data={"answer": "reject"})[0] == 200
    assert finished(shop, plain_run)["status"] == "completed"


def test_a_page_in_a_background_tab_asks_nothing_until_shown(shop, manager, page):
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/api/feedback/" in request.url else None)
    sign_in(page, shop, manager)
    page.wait_for_timeout(3500)
    assert polls, "the page did not poll while shown"
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {value: true, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(3500)  # a poll under way when it was hidden may still end
    before = len(polls)
    page.wait_for_timeout(7000)  # two polls' time
    assert len(polls) == before, "the page polled while hidden"
    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {value: false, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(1000)
    assert len(polls) > before, "the page did not poll again once shown"
