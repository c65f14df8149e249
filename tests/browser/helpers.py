"""Steps many browser tests share."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.factories import PASSWORD


def sign_in(page: Page, path: str, email: str, password: str = PASSWORD) -> None:
    """Open ``path`` signed out and pass the sign-in form it leads to."""
    page.goto(path)
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()


def browser_profile(browser, live_server, **options):
    """A new browser profile on the live server (``options``: Playwright's
    ``new_context`` options, e.g. ``timezone_id``), closed when the test ends."""
    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()
