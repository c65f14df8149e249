"""The navigation in Chromium: on a 390 px phone a top bar whose Menu button
opens and closes the pages and the avatar menu; on a desktop the sidebar as
always; without JavaScript, the whole sidebar on the phone too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orgs import services as org_services
from tests.browser.helpers import sign_in
from tests.browser.test_pages_browser import _axe_violations
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "olivia.owner@example.com"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def acme():
    owner = UserFactory(email=EMAIL, name="Olivia Owner")
    return org_services.organization_create(name="Acme Incorporated Worldwide Logistics", slug="acme", owner=owner)


def _signed_in_page(context, path="/acme/incidents/"):
    page = context.new_page()
    sign_in(page, path, EMAIL)
    page.wait_for_url(f"**{path}")
    return page


def test_on_a_phone_the_menu_button_opens_and_closes_the_navigation(acme, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    page = _signed_in_page(context)
    button = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")

    # Closed: the org and the button in one bar, the pages out of the way.
    expect(page.get_by_test_id("org-name")).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert page.locator("#" + button.get_attribute("aria-controls")).count() == 1
    bar = page.get_by_test_id("sidebar").bounding_box()
    assert bar["height"] < 80, "the closed top bar takes a strip, not a third of the screen"
    assert button.bounding_box()["x"] + button.bounding_box()["width"] <= PHONE["width"]

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Incidents")).to_have_class("active")
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()
    expect(page.get_by_role("link", name="Declare incident").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The avatar menu opens inside it, below its button, on the screen.
    page.get_by_test_id("avatar-menu").locator("summary").click()
    preferences = page.get_by_role("link", name="Preferences")
    expect(preferences).to_be_visible()
    box = preferences.bounding_box()
    assert box["y"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _axe_violations(page) == [], "axe-core, with the menu and the avatar menu open"

    # Escape closes the avatar menu, then the navigation, and focus returns to the button.
    page.keyboard.press("Escape")
    expect(preferences).to_be_hidden()
    expect(nav).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()

    # Open again and follow a link: the next page starts with the menu closed.
    button.click()
    nav.get_by_role("link", name="My tasks").click()
    page.wait_for_url("**/acme/tasks/")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    context.close()


def test_on_a_desktop_the_sidebar_is_open_and_has_no_menu_button(acme, browser_context):
    page = _signed_in_page(browser_context)
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Insights")).to_be_visible()
    expect(page.get_by_role("link", name="Declare incident").first).to_be_visible()
    sidebar = page.get_by_test_id("sidebar").bounding_box()
    assert sidebar["x"] == 0 and sidebar["width"] == 248 and sidebar["height"] == 900


def test_without_javascript_a_phone_shows_the_whole_navigation(acme, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = _signed_in_page(context)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Post-incident")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
