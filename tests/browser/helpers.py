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
