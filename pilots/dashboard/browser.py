"""Headless Chromium for the browser tests and the README screenshot, through Playwright.

Playwright drives the system's Chromium (``/usr/bin/chromium``, from apt); its own browser downloads
(``playwright install``) are never used.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base_url: str, username: str, password: str, *, next_path: str = "/dashboard/") -> None:
    """Sign in through the dashboard's sign-in page and wait for the landing page's data."""
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    wait_loaded(page)


def wait_loaded(page, timeout: float = 60_000) -> None:
    """Wait until the page's script has fetched and drawn everything (``body[data-loaded]``)."""
    page.wait_for_selector("body[data-loaded]", timeout=timeout)
    state = page.get_attribute("body", "data-loaded")
    if state != "true":
        raise AssertionError(f"the dashboard failed to load: {page.text_content('#load-status')}")
