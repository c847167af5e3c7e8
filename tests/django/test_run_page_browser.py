"""The run page in headless Chromium: a run's graph with each step's name and state, brought up
to date while the run goes on (no reload), cancelling from its button, nothing loaded from
anywhere but the site. Each test saves a screenshot (``tests/support/browser.py``)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from tests.django.conftest import Shop
from tests.support.browser import screenshot

LABELS = {"pending": "pending", "executing": "running", "completed": "done", "failed": "failed",
          "skipped": "skipped", "waiting": "waiting for a person"}


def box(page: Any, task: str) -> Any:
    return page.locator(f'[data-task="{task}"]')


def state_of(page: Any, task: str) -> tuple[str, str]:
    """(data-state, the label a person reads) of a task's box."""
    found = box(page, task)
    return found.get_attribute("data-state"), found.locator(":scope > .gf-head .gf-state").inner_text()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def open_run(page: Any, shop: Shop, run_id: str) -> list[str]:
    """Open the run's page; returns the list that collects every URL the page requests."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{shop.base}/workflows/runs/{run_id}/")
    return requested


def test_the_run_page_follows_a_run_to_its_end(shop, page):
    from playwright.sync_api import expect

    run_id = shop.driver("submit", item="bicycle", inputs={"payment_delay": 2})["run_id"]
    requested = open_run(page, shop, run_id)
    expect(box(page, "charge")).to_have_attribute("data-state", "executing")
    assert state_of(page, "charge") == ("executing", "RUNNING")  # shown in capitals by the page's CSS
    assert state_of(page, "charge_and_email") == ("executing", "RUNNING")
    assert state_of(page, "reserve_stock") == ("completed", "DONE")
    assert state_of(page, "ship") == ("pending", "PENDING")
    running = screenshot(page, "run-page-running")

    expect(page.locator("#gf-status")).to_have_text("completed", timeout=20_000)  # polled, not reloaded
    for task in ["reserve_stock", "approve", "charge_and_email", "charge", "send_confirmation", "ship"]:
        expect(box(page, task)).to_have_attribute("data-state", "completed")
        assert box(page, task).locator(":scope > .gf-head .gf-name").inner_text() == task
        assert state_of(page, task) == ("completed", "DONE")
    expect(page.locator("#gf-result")).to_contain_text("TRK-")
    assert page.locator("#gf-steps").inner_text() == "7 of 7 steps"
    done = screenshot(page, "run-page-completed")

    for shot in (running, done):
        width, height = png_size(shot)
        assert width >= 1000 and height >= 400, (shot, width, height)
    assert requested and all(url.startswith(shop.base + "/") for url in requested), requested
    assert any(url.endswith(f"/workflows/api/runs/{run_id}/") for url in requested)  # it polled


def test_a_failed_run_shows_where_it_failed(shop, page):
    run_id = shop.driver("submit", item="crate", quantity=99)["run_id"]
    open_run(page, shop, run_id)
    from playwright.sync_api import expect

    expect(page.locator("#gf-status")).to_have_text("failed", timeout=20_000)
    assert state_of(page, "reserve_stock") == ("failed", "FAILED")
    for task in ["approve", "charge_and_email", "charge", "send_confirmation", "ship"]:
        assert state_of(page, task) == ("skipped", "SKIPPED")
    expect(page.locator("#gf-error")).to_contain_text("OutOfStock: only 10 of 'crate' in stock, 99 ordered")
    screenshot(page, "run-page-failed")


def test_the_cancel_button_cancels_the_run(shop, page):
    from playwright.sync_api import expect

    run_id = shop.driver("submit", item="boat", inputs={"payment_delay": 3})["run_id"]
    open_run(page, shop, run_id)
    expect(box(page, "charge")).to_have_attribute("data-state", "executing")
    page.get_by_role("button", name="Cancel run").click()  # a form POST with Django's CSRF token
    expect(page.locator("#gf-status")).to_have_text("cancelled", timeout=20_000)
    assert page.url == f"{shop.base}/workflows/runs/{run_id}/"  # sent back to the page
    assert page.get_by_role("button", name="Cancel run").count() == 0
    assert state_of(page, "ship") == ("skipped", "SKIPPED")
    expect(page.locator("#gf-error")).to_contain_text("cancelled")
    # charge's function was running: the page follows it until it returns, its result unused
    expect(box(page, "charge")).to_have_attribute("data-state", "skipped", timeout=20_000)
    screenshot(page, "run-page-cancelled")
