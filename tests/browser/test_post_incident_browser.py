"""The Post-incident page in Chromium, on a phone (390 px) and a desktop
(1440 px): nothing scrolls sideways, and a filter narrows the list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentType
from incidentio.incidents.services.incidents import incident_declare
from learning.services.flow import incident_close
from orgs.models import Role
from tests.browser.test_incident_browser import EMAIL, sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme_in_flow(eager_celery):
    """Two incidents in Acme's learning flow: a Security one with a long name, and a Default one."""
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    rita = MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email=EMAIL, name="Rita Responder")).user
    security = IncidentType.objects.create(org=acme, name="Security")
    for name, incident_type in [
        ("Credentials for the payments-reconciliation-service-account leaked into a public build log", security),
        ("Checkout latency", None),
    ]:
        incident = incident_declare(org=acme, actor=Actor.for_user(rita), name=name, lead=rita,
                                    incident_type=incident_type)
        incident_close(incident=incident, actor=Actor.for_user(rita), learning_flow="run")


def _scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def _fits(page, locator) -> bool:
    """The element is inside the viewport's width: not cut off by its card nor scrolled within it."""
    box = locator.bounding_box()
    return box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


@pytest.mark.parametrize("width", [390, 1440])
def test_post_incident_page_fits_and_filters_by_type(width, acme_in_flow, browser_context, artifacts_dir):
    page = browser_context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "/acme/post-incident/")
    page.wait_for_url("**/acme/post-incident/")
    rows = page.get_by_test_id("post-incident-row")
    expect(rows).to_have_count(2)
    if width < 760:  # on a phone the navigation is behind the Menu button (static/js/nav.js)
        page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Post-incident")).to_have_class("active")
    assert not _scrolls_sideways(page)
    assert all(_fits(page, row) for row in rows.all())
    page.screenshot(path=str(artifacts_dir / f"post_incident_{width}.png"), full_page=True)

    page.get_by_label("Type").select_option(label="Security")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Credentials for the payments")
    expect(rows.first).to_contain_text("Documenting")
    assert not _scrolls_sideways(page)
