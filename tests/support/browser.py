"""Headless Chromium for tests that look at pages as a person does: read the DOM, click, take a
screenshot. It is Debian's ``chromium`` (/usr/bin/chromium; ``scripts/test`` installs it in CI),
driven by Playwright from PyPI - which brings its own driver and downloads nothing here, since it
is pointed at that executable. Playwright rather than Selenium: one Python package and no
chromedriver to match, and its locators wait for what they look for, so tests need no sleeps.

Use the fixtures from a conftest (``from tests.support.browser import browser, page  # noqa``).
Without Chromium or Playwright the tests that use them are skipped, saying why; in CI they fail.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GRAFLOW_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that would reach out of the machine (there is no network but loopback).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("GRAFLOW_SCREENSHOTS")
                   or Path(tempfile.gettempdir()) / "graflow-screenshots")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"headless Chromium is needed in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (a Playwright ``Browser``). Not per session: Playwright's sync
    API keeps an asyncio loop running in this thread while it is open, and Django then refuses
    database calls in this process (``SynchronousOnlyOperation``) - in later tests too."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own cookies) in a 1100x800 window."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """The whole page as a PNG under ``GRAFLOW_SCREENSHOTS`` (default: a folder in the temp dir)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
