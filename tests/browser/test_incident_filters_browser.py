"""The incidents list's filters, used through the form in Chromium (issue #17, item 8).

The browser submits every control, the ones left on "Any" as empty values;
each filter is chosen alone, then all of them together, and the list must
show the right incidents and no error.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from orgs.models import Role
from tests.browser.test_incident_browser import EMAIL, sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.incidents.filter_world import declare_four_incidents

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme_incidents():
    """Acme's four incidents (tests/incidents/filter_world.py): Rita is the responder, Olga the owner."""
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    rita = MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email=EMAIL, name="Rita Responder")).user
    olga = MembershipFactory(org=acme, role=Role.OWNER, user=UserFactory(email="olga@acme.test", name="Olga")).user
    declare_four_incidents(acme, owner=olga, responder=rita)

def listed(page: Page) -> list[str]:
    return page.get_by_test_id("incident-list").locator("td.ref").all_inner_texts()


def choose(page: Page, *, q="", category="Any", status="Any", severity="Any", learning_flow="Any",
           assignee="Anyone") -> None:
    """Fill every control (each one, every time: what is not chosen goes back to Any) and press Filter."""
    page.get_by_label("Search").fill(q)
    page.get_by_label("Category").select_option(label=category)
    page.get_by_label("Status").select_option(label=status)
    page.get_by_label("Severity").select_option(label=severity)
    page.get_by_label("Learning flow").select_option(label=learning_flow)
    page.get_by_label("Person in a role").select_option(label=assignee)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()


def expect_listed(page: Page, references: list[str]) -> None:
    expect(page.locator("form[data-testid=filters] .flash-error")).to_have_count(0)
    expect(page.get_by_test_id("incident-list").locator("td.ref")).to_have_text(references)
    assert listed(page) == references


@pytest.mark.parametrize("chosen, references", [
    ({"severity": "Critical"}, ["INC-3"]),  # the reported case
    ({}, ["INC-4", "INC-3", "INC-2", "INC-1"]),
    ({"q": "checkout"}, ["INC-3", "INC-1"]),
    ({"category": "Live"}, ["INC-3", "INC-1"]),
    ({"status": "Fixing"}, ["INC-3"]),
    ({"learning_flow": "Running"}, ["INC-4"]),
    ({"assignee": "Rita Responder"}, ["INC-3", "INC-1"]),
    ({"q": "checkout", "category": "Live", "status": "Fixing", "severity": "Critical",
      "learning_flow": "Not entered", "assignee": "Rita Responder"}, ["INC-3"]),
])
def test_every_filter_control_through_the_form(acme_incidents, browser_context, chosen, references):
    page = browser_context.new_page()
    sign_in(page, "/acme/incidents/")
    expect(page.get_by_test_id("incident-list")).to_contain_text("Payments timeouts")

    choose(page, **chosen)

    expect_listed(page, references)
    # The form shows what was chosen, so the next Filter starts from it.
    expect(page.get_by_label("Severity")).to_have_value(
        re.compile(".+") if chosen.get("severity") else re.compile("^$")
    )
    if chosen.get("q"):
        expect(page.get_by_label("Search")).to_have_value(chosen["q"])


def test_filters_one_after_another_in_one_page(acme_incidents, browser_context):
    """Each Filter replaces the last: choosing Any again widens the list back."""
    page = browser_context.new_page()
    sign_in(page, "/acme/incidents/")
    choose(page, severity="Critical")
    expect_listed(page, ["INC-3"])
    choose(page, category="Live")
    expect_listed(page, ["INC-3", "INC-1"])
    choose(page, category="Live", assignee="Olga")
    expect_listed(page, ["INC-3"])
    choose(page)
    expect_listed(page, ["INC-4", "INC-3", "INC-2", "INC-1"])
