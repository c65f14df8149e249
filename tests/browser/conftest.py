"""Fixtures for browser tests: a headless Debian Chromium driven by Playwright.

The browser talks to pytest-django's ``live_server``, so every browser test
needs the transactional database (the server thread cannot see data inside
the test's transaction).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.profiles import browser_profile

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Screenshots land here; the directory is gitignored.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    """A fresh headless Chromium per test; skipped (a failure in CI) without one."""
    # Playwright's sync API runs an asyncio event loop in the test thread, so
    # while a browser is open Django sees a "running loop" there and refuses
    # ORM calls from that thread (factories, database assertions, the
    # transactional_db flush) with SynchronousOnlyOperation. Those are plain
    # blocking calls made while no coroutine is running, so the check guards
    # nothing here. Set only for browser tests (monkeypatch undoes it after
    # this fixture's teardown), so the rest of the suite keeps the check.
    # The live server answers requests in its own thread, which has no loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"{CHROMIUM} not found: browser tests need Debian's chromium "
            "(apt-get install chromium); Playwright's own browsers are not used"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(browser, live_server):
    """One browser profile (one cookie jar) pointed at the live server.

    Pages opened in it are tabs of the same browser: they share the session.
    """
    yield from browser_profile(browser, live_server)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR
