"""The run page in headless Chromium: a run's graph with each step's name and state, brought up
to date while the run goes on (no reload), its edges drawn as lines joining the right boxes,
cancelling from its button, nothing loaded from anywhere but the site. Each test saves a
screenshot (``tests/support/browser.py``)."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

from tests.django.branching import EDGES
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
    # the page may be drawn between the step's lease read and its failure (executing, the run
    # failed): it then follows the run until nothing executes
    expect(box(page, "reserve_stock")).to_have_attribute("data-state", "failed")
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


Point = tuple[float, float]


def drawn_edges(page: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """The SVG's lines by (from, to): their state and where they start and end, in the page's
    coordinates (``d`` is "M x y C x1 y1 x2 y2 x y", then the arrowhead: "M ... L ... L ...")."""
    paths = page.locator("#gf-edges path").evaluate_all(
        "paths => paths.map(p => [p.dataset.from, p.dataset.to, p.dataset.state, p.getAttribute('d')])")
    origin = page.locator("#gf-edges").bounding_box()
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for source, target, state, d in paths:
        assert (source, target) not in edges, f"{source} -> {target} drawn twice"
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d.split(" M ")[0])]
        assert d.startswith("M ") and " C " in d and len(numbers) == 8, d
        start = (origin["x"] + numbers[0], origin["y"] + numbers[1])
        end = (origin["x"] + numbers[6], origin["y"] + numbers[7])
        edges[(source, target)] = {"state": state, "start": start, "end": end}
    return edges


def on_edge_of(point: Point, rect: dict[str, float], slack: float = 2.0) -> bool:
    """Whether the point lies on the rectangle's outline (within ``slack`` pixels)."""
    x, y = point
    left, top, right, bottom = rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"]
    within = left - slack <= x <= right + slack and top - slack <= y <= bottom + slack
    return within and min(abs(x - left), abs(x - right), abs(y - top), abs(y - bottom)) <= slack


def assert_edges_join_their_boxes(page: Any) -> dict[tuple[str, str], dict[str, Any]]:
    edges = drawn_edges(page)
    assert set(edges) == EDGES  # exactly one line per edge of the graph
    for (source, target), edge in edges.items():
        from_box, to_box = box(page, source).bounding_box(), box(page, target).bounding_box()
        assert on_edge_of(edge["start"], from_box), (source, target, edge, from_box)
        assert on_edge_of(edge["end"], to_box), (source, target, edge, to_box)
        assert edge["start"][1] <= edge["end"][1], (source, target, edge)  # down the page
    return edges


def test_the_edges_are_drawn_as_lines_between_the_right_boxes(shop, page):
    from playwright.sync_api import expect

    run_id = shop.driver("branches", inputs={"hold": True})["run_id"]
    requested = open_run(page, shop, run_id)
    expect(box(page, "capture_payment")).to_have_attribute("data-state", "executing")
    into_capture = page.locator('#gf-edges path[data-to="capture_payment"]')
    expect(into_capture).to_have_attribute("data-state", "executing")
    edges = assert_edges_join_their_boxes(page)
    assert edges[("take_order", "check_stock")]["state"] == "completed"
    assert edges[("capture_payment", "packing")]["state"] == "pending"  # not reached yet
    assert edges[("packing", "dispatch")]["state"] == "pending"
    # check_payment's next step sits first in the row below, under check_stock: the lines cross
    crossed = edges[("check_payment", "capture_payment")], edges[("check_stock", "pick_items")]
    assert crossed[0]["start"][0] > crossed[1]["start"][0] and crossed[0]["end"][0] < crossed[1]["end"][0]
    assert page.locator(".gf-arrow").first.is_hidden()  # the down-arrows give way to the lines
    screenshot(page, "run-page-edges-running")

    shop.driver("go", run_id=run_id)
    expect(page.locator("#gf-status")).to_have_text("completed", timeout=20_000)
    expect(page.locator('#gf-edges path[data-to="dispatch"]')).to_have_attribute("data-state", "completed")
    edges = assert_edges_join_their_boxes(page)  # drawn again as the boxes changed
    assert {edge["state"] for edge in edges.values()} == {"completed"}
    screenshot(page, "run-page-edges-completed")

    page.set_viewport_size({"width": 560, "height": 800})  # the graph scrolls sideways, rows unwrapped
    row = box(page, "check_stock").bounding_box()
    for task in ("check_payment", "greet_customer"):
        assert box(page, task).bounding_box()["y"] == row["y"]
    assert_edges_join_their_boxes(page)
    screenshot(page, "run-page-edges-narrow")
    assert all(url.startswith(shop.base + "/") for url in requested), requested


def test_without_script_the_run_page_still_shows_its_boxes(shop, browser):
    run_id = shop.driver("branches")["run_id"]
    context = browser.new_context(viewport={"width": 1100, "height": 800}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{shop.base}/workflows/runs/{run_id}/")
        for source, target in EDGES:
            assert box(page, source).count() == 1 and box(page, target).count() == 1
        assert page.locator("#gf-edges").count() == 0
        assert page.locator(".gf-arrow").first.is_visible()  # the rows keep their down-arrows
        assert box(page, "take_order").get_attribute("title") == \
            "then: check_stock, check_payment, greet_customer"
        screenshot(page, "run-page-no-script")
    finally:
        context.close()
