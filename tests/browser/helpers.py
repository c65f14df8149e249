"""Steps many browser tests share."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.factories import PASSWORD


def fill_sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Pass the sign-in form on the current page: the e-mail first
    ("Continue"), then the password it asks for next (orgs/views/login.py)."""
    page.locator("input[name=login]").fill(email)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()


def sign_in(page: Page, path: str, email: str, password: str = PASSWORD) -> None:
    """Open ``path`` signed out and pass the sign-in form it leads to."""
    page.goto(path)
    fill_sign_in(page, email, password)


def open_avatar_menu(page: Page) -> Locator:
    """Open the avatar menu (a <details>) unless it is open already; return it."""
    menu = page.get_by_test_id("avatar-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    return menu
