"""An incident's life in the dashboard, clicked through in Chromium (issue: incident core).

A responder declares an incident, changes its status and severity, writes a
post-mortem, and sees each change on the incident's timeline.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from orgs.models import Role
from tests.browser.helpers import fill_sign_in
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "rita@acme.test"


@pytest.fixture
def acme_responder():
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email=EMAIL, name="Rita Responder"))


def sign_in(page: Page, path: str) -> None:
    page.goto(path)
    fill_sign_in(page, EMAIL, PASSWORD)


def timeline(page: Page):
    return page.get_by_test_id("timeline")


def test_declare_change_status_and_severity_write_postmortem_all_on_the_timeline(
    acme_responder, browser_context, artifacts_dir
):
    page = browser_context.new_page()
    sign_in(page, "/acme/incidents/")
    expect(page.get_by_test_id("first-incident")).to_contain_text("No incidents yet")

    # Declare.
    page.get_by_role("link", name="Declare incident").first.click()
    page.get_by_label("Name").fill("Database latency")
    page.get_by_label("Summary").fill("Queries over **2s** on the primary.")
    page.get_by_label("Severity").select_option(label="Minor")
    page.get_by_role("button", name="Declare incident").click()

    expect(page.get_by_test_id("incident-title")).to_contain_text("INC-1 Database latency")
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Investigating")
    expect(page.get_by_test_id("summary").locator("strong")).to_have_text("2s")
    expect(timeline(page)).to_contain_text("INC-1 declared")

    # Change status and severity.
    page.locator("#id_status").select_option(label="Fixing")
    page.locator("#id_severity").select_option(label="Critical")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_test_id("incident-badges")).to_contain_text("Fixing")
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Critical")
    expect(timeline(page)).to_contain_text("Status changed from Investigating to Fixing")
    expect(timeline(page)).to_contain_text("Severity changed from Minor to Critical")

    # Write the post-mortem in its editor, see the live preview, save it.
    page.get_by_role("button", name="Write the post-mortem").click()
    page.locator(".EasyMDEContainer .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("## What happened\n\nA missing index on `orders.created_at`.")
    expect(page.get_by_test_id("postmortem-preview").get_by_role("heading")).to_have_text(["What happened"])
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Post-mortem saved.")).to_be_visible()

    page.get_by_role("link", name="INC-1").click()
    expect(timeline(page)).to_contain_text("Post-mortem created")
    page.screenshot(path=str(artifacts_dir / "incident-page.png"), full_page=True)

    # The change is there for the next visitor too, not only in this page.
    page.reload()
    # Declared, lead assigned (the declare form suggests the declarer), status,
    # severity, post-mortem: newest first.
    events = timeline(page).locator("li.event")
    expect(events).to_have_count(5)
    expect(events.nth(0)).to_contain_text("Post-mortem created")
    expect(events.nth(3)).to_contain_text("Rita Responder is now Incident Lead")
    expect(events.nth(4)).to_contain_text("INC-1 declared")


def test_a_form_opened_on_the_incident_page_loads_and_adds_a_follow_up(acme_responder, browser_context):
    """The follow-up form is not in the page: opening its <details> fetches it (static/js/on_demand_forms.js)."""
    from incidentio.common.actors import Actor
    from incidentio.incidents.models import Incident
    from incidentio.incidents.services.incidents import incident_declare
    from orgs.models import Organization, User

    incident = incident_declare(org=Organization.objects.get(slug="acme"),
                                actor=Actor.for_user(User.objects.get(email=EMAIL)), name="Queue backed up")
    page = browser_context.new_page()
    sign_in(page, f"/acme/incidents/{incident.public_id}/")
    follow_up = page.get_by_test_id("form-follow-up")
    expect(follow_up.locator("input[name=title]")).to_have_count(0)

    follow_up.locator("summary").click()
    title = follow_up.locator("input[name=title]")
    expect(title).to_be_focused()  # the form arrived and took the focus
    title.fill("Alert on queue depth")
    follow_up.get_by_label("Assignee").select_option(label="Rita Responder")
    follow_up.get_by_role("button", name="Add follow-up").click()

    expect(page.get_by_test_id("follow-ups")).to_contain_text("Alert on queue depth")
    expect(page.get_by_test_id("follow-ups")).to_contain_text("Rita Responder")
    assert Incident.objects.get(pk=incident.pk).follow_ups.get().title == "Alert on queue depth"
