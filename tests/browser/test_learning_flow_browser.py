"""The learning flow clicked through in Chromium (issue: the learning flow).

A responder closes an incident and runs the flow, completes and skips tasks
until it reaches Reviewing and then Closed; closes another and opts out with a
reason, which shows on its timeline.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from incidentio.common.actors import Actor
from incidentio.incidents.models import Severity
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import Role
from tests.browser.helpers import fill_sign_in
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "rita@acme.test"


@pytest.fixture
def two_incidents():
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    rita = UserFactory(email=EMAIL, name="Rita Responder")
    MembershipFactory(org=acme, role=Role.RESPONDER, user=rita)
    minor = Severity.objects.get(org=acme, name="Minor")
    for name in ("Cache stampede", "Flaky health check"):
        incident_declare(org=acme, actor=Actor.for_user(rita), name=name, severity=minor, lead=rita)


def sign_in(page: Page, path: str) -> None:
    page.goto(path)
    fill_sign_in(page, EMAIL, PASSWORD)


def open_incident(page: Page, name: str) -> None:
    page.goto("/acme/incidents/")
    page.get_by_role("link", name=name).click()


def outstanding_tasks(page: Page):
    return page.get_by_test_id("task").filter(has=page.get_by_role("button", name="Complete"))


def complete_all_current_tasks(page: Page) -> None:
    """Click Complete on each outstanding task of the current status, one page load at a time."""
    for _ in range(outstanding_tasks(page).count()):
        outstanding_tasks(page).first.get_by_role("button", name="Complete").click()
        page.wait_for_load_state()


@pytest.fixture(autouse=True)
def advance_in_process(eager_celery):
    """The live server runs Celery tasks in-process, so the advance happens on
    commit inside the request. (A real worker on Redis is tested in
    tests/learning/test_celery_worker.py.)"""


def test_run_the_flow_to_closed_and_opt_out_of_another(two_incidents, browser_context, artifacts_dir):
    page = browser_context.new_page()
    sign_in(page, "/acme/incidents/")

    # Close the first incident into the learning flow.
    open_incident(page, "Cache stampede")
    page.get_by_test_id("close-choice").locator("summary").click()
    page.get_by_role("button", name="Close and run the learning flow").click()
    panel = page.get_by_test_id("learning-panel")
    expect(panel).to_contain_text("Documenting")
    expect(panel).to_contain_text("Create the post-mortem")

    # Documenting: skip one task with a reason, complete the rest.
    first = outstanding_tasks(page).first
    first.locator("summary", has_text="Not doing").click()
    first.get_by_role("textbox").fill("Written in the incident doc instead")
    first.get_by_role("button", name="Mark not doing").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("marked not doing: Written in the incident doc instead")
    complete_all_current_tasks(page)
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Reviewing")
    expect(page.get_by_test_id("timeline")).to_contain_text("moved to Reviewing")
    page.screenshot(path=str(artifacts_dir / "learning-reviewing.png"), full_page=True)

    # Reviewing: complete everything; the incident closes itself.
    complete_all_current_tasks(page)
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Closed")
    expect(page.get_by_test_id("learning-state")).to_have_text("Completed")
    expect(page.get_by_test_id("timeline")).to_contain_text("the learning flow is complete")

    # Close the second one without the flow, with a reason.
    open_incident(page, "Flaky health check")
    page.get_by_test_id("close-choice").locator("summary").click()
    page.get_by_role("button", name="Close without the learning flow").click()
    expect(page.get_by_text("Say why the learning flow is skipped")).to_be_visible()  # empty reason refused
    if not page.locator("#opt-out-reason").is_visible():
        page.get_by_test_id("close-choice").locator("summary").click()
    page.locator("#opt-out-reason").fill("The check was misconfigured; no user impact.")
    page.get_by_role("button", name="Close without the learning flow").click()
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Closed")
    expect(page.get_by_test_id("opt-out-reason")).to_contain_text("The check was misconfigured; no user impact.")
    expect(page.get_by_test_id("timeline")).to_contain_text("The check was misconfigured; no user impact.")
