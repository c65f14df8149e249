"""Live pages in Chromium (docs/dashboard.md, "Live pages"; issue 21).

An incident page and the incidents list are open; changes made through the
public API (as a script, Slack or another person would make them) appear
without a reload, and what the reader is typing is never thrown away.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import Page, expect

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentStatus, Severity, StatusCategory
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole, Role
from orgs.services import api_key_create
from tests.browser.helpers import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONDER = "rita@acme.test"
VIEWER = "vera@acme.test"
#: Long enough for a 1 s poll, a render and a retry; expect() returns as soon as the change shows.
WITHIN = 15_000


@pytest.fixture
def acme(settings):
    settings.LIVE_POLL_SECONDS = 1  # the pages poll every second in these tests (5 by default)
    org = OrganizationFactory(slug="acme", name="Acme Inc.")
    responder = UserFactory(email=RESPONDER, name="Rita Responder")
    MembershipFactory(org=org, role=Role.RESPONDER, user=responder)
    MembershipFactory(org=org, role=Role.VIEWER, user=UserFactory(email=VIEWER, name="Vera Viewer"))
    incident = incident_declare(org=org, actor=Actor.for_user(responder), name="Checkout is down",
                                severity=Severity.objects.get(org=org, name="Minor"))
    return org, incident


@pytest.fixture
def api(acme, live_server):
    """``api(path, body)``: POST to the public API as an incident-editor key would, over HTTP."""
    org, _incident = acme
    _key, token = api_key_create(org=org, name="Status bot", roles=[ApiKeyRole.INCIDENT_EDITOR], created_by=None)

    def post(path: str, body: dict) -> dict:
        response = requests.post(f"{live_server.url}/api/v2/{path}", json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), response.text
        return response.json()

    return post


def open_page(page: Page, path: str, email: str) -> None:
    sign_in(page, path, email)
    expect(page.locator("script[data-live-version]")).to_have_count(1)
    # Gone if the page reloads: every change below must arrive without one.
    page.evaluate("window.stillTheSamePage = true")


def same_page(page: Page) -> bool:
    return page.evaluate("window.stillTheSamePage === true")


def status_id(org, name: str) -> str:
    return str(IncidentStatus.objects.get(org=org, category=StatusCategory.LIVE, name=name).public_id)


def test_an_api_change_appears_on_the_open_incident_page_and_the_typed_update_survives(
    acme, api, browser_context
):
    org, incident = acme
    page = browser_context.new_page()
    open_page(page, f"/acme/incidents/{incident.public_id}/", RESPONDER)
    update = page.locator("textarea[name=message]")
    update.fill("Half-written: the deploy at 09:12 is")

    api(f"incidents/{incident.public_id}/actions/edit",
        {"name": "Card payments fail", "summary": "Card payments fail in **eu-west-1**."})

    expect(page.get_by_test_id("summary").locator("strong")).to_have_text("eu-west-1", timeout=WITHIN)
    expect(page.get_by_test_id("timeline")).to_contain_text("Summary updated")
    expect(page.get_by_test_id("incident-title")).to_contain_text("INC-1 Card payments fail")
    expect(page).to_have_title(re.compile(r"^INC-1 Card payments fail"))
    assert same_page(page)
    # The timeline around the form was replaced; the form and its text were not.
    expect(update).to_have_value("Half-written: the deploy at 09:12 is")
    expect(update).to_be_focused()


def test_a_region_being_typed_in_waits_for_the_reader_and_open_details_stay_open(acme, api, browser_context):
    org, incident = acme
    page = browser_context.new_page()
    open_page(page, f"/acme/incidents/{incident.public_id}/", RESPONDER)
    cancel = page.locator("details", has=page.get_by_text("Cancel (declared by mistake)"))
    cancel.locator("summary").click()
    reason = page.locator("#cancel-reason")
    reason.fill("Declared from the wrong channel")
    page.locator("h1").click()  # the focus leaves; the typed reason still holds the Actions card

    api(f"incidents/{incident.public_id}/actions/edit", {"status_id": status_id(org, "Fixing")})

    # The header has no form: it shows the new status right away.
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Fixing", timeout=WITHIN)
    # The Actions card waits: the reason is still there, its form open, the status select as it was.
    expect(reason).to_have_value("Declared from the wrong channel")
    expect(cancel).to_have_attribute("open", "")
    expect(page.locator("#id_status option:checked")).to_have_text("Investigating")

    # Once the reader gives the text up, the card catches up, its open <details> still open.
    reason.fill("")
    page.locator("h1").click()
    expect(page.locator("#id_status option:checked")).to_have_text("Fixing", timeout=WITHIN)
    expect(page.locator("details", has=page.get_by_text("Cancel (declared by mistake)"))).to_have_attribute(
        "open", "")
    assert same_page(page)


def test_the_incidents_list_shows_a_newly_declared_incident_to_a_viewer(acme, api, browser_context):
    page = browser_context.new_page()
    open_page(page, "/acme/incidents/", VIEWER)
    expect(page.get_by_test_id("incident-list")).to_contain_text("Checkout is down")

    api("incidents", {"name": "Search is slow", "idempotency_key": str(uuid.uuid4())})

    expect(page.get_by_test_id("incident-list").locator("tbody tr").first).to_contain_text(
        "Search is slow", timeout=WITHIN)
    expect(page.get_by_test_id("incident-list")).to_contain_text("INC-2")
    assert same_page(page)


def test_polling_stops_once_the_session_ends(acme, browser_context):
    org, incident = acme
    page = browser_context.new_page()
    open_page(page, f"/acme/incidents/{incident.public_id}/", RESPONDER)
    other_tab = browser_context.new_page()
    other_tab.goto("/accounts/logout/")
    other_tab.get_by_role("button", name="Sign Out").click()

    # The next poll is sent to sign in: the script stops rather than poll a sign-in page.
    expect(page.locator("script[data-live-version]")).to_have_attribute("data-live-state", "stopped",
                                                                        timeout=WITHIN)
    assert same_page(page)
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_a_failing_server_is_polled_again_until_it_answers_and_a_refusal_stops_polling(acme, api, browser_context):
    org, incident = acme
    page = browser_context.new_page()
    path = f"/acme/incidents/{incident.public_id}/"
    open_page(page, path, RESPONDER)
    failed = []

    def unavailable_twice(route):
        if route.request.headers.get("x-live-poll") == "1" and len(failed) < 2:
            failed.append(route.request.url)
            route.fulfill(status=503, body="Service Unavailable")
        else:
            route.continue_()

    page.route(f"**{path}", unavailable_twice)
    api(f"incidents/{incident.public_id}/actions/edit", {"summary": "Recovered after the outage."})
    # Two failures, then the waits grow (1 s, 2 s, 4 s here), and the change still arrives.
    expect(page.get_by_test_id("summary")).to_contain_text("Recovered after the outage.", timeout=30_000)
    assert len(failed) == 2
    expect(page.locator("script[data-live-version]")).not_to_have_attribute("data-live-state", "stopped")

    # A 403 (the member's access is gone) stops it for good.
    page.unroute(f"**{path}")
    page.route(f"**{path}", lambda route: route.fulfill(status=403, body="Forbidden"))
    expect(page.locator("script[data-live-version]")).to_have_attribute("data-live-state", "stopped",
                                                                        timeout=WITHIN)
    assert same_page(page)


def test_text_selected_in_the_timeline_stays_selected_until_the_reader_lets_go(acme, api, browser_context):
    org, incident = acme
    page = browser_context.new_page()
    open_page(page, f"/acme/incidents/{incident.public_id}/", RESPONDER)
    timeline = page.get_by_test_id("timeline")
    # The reader selects the declaration's entry, to copy it.
    page.evaluate("""() => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector('[data-testid=timeline] li'));
        document.getSelection().removeAllRanges();
        document.getSelection().addRange(range);
    }""")

    api(f"incidents/{incident.public_id}/actions/edit", {"summary": "Card payments fail."})

    expect(page.get_by_test_id("summary")).to_contain_text("Card payments fail.", timeout=WITHIN)
    expect(timeline).not_to_contain_text("Summary updated")
    assert page.evaluate("document.getSelection().toString()").strip()

    page.evaluate("document.getSelection().removeAllRanges()")
    expect(timeline).to_contain_text("Summary updated", timeout=WITHIN)
    assert same_page(page)
