"""Issue 21, items 5 and 7 in Chromium: a close prompt that says what each
choice does, the empty-reason error next to its field on a page that reloads,
and a learning panel that shows every status with "n of m done" and announces
the move to the next status."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from incidentio.common.actors import Actor
from incidentio.incidents.models import Severity
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import Role
from tests.browser.helpers import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "rita@acme.test"


@pytest.fixture
def incident():
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    rita = UserFactory(email=EMAIL, name="Rita Responder")
    MembershipFactory(org=acme, role=Role.RESPONDER, user=rita)
    return incident_declare(org=acme, actor=Actor.for_user(rita), name="Cache stampede",
                            severity=Severity.objects.get(org=acme, name="Minor"), lead=rita)


@pytest.fixture(autouse=True)
def advance_in_process(eager_celery):
    """The live server runs Celery tasks in-process: the advance happens on commit, inside the request."""


def outstanding(page: Page):
    return page.get_by_test_id("task").filter(has=page.get_by_role("button", name="Complete"))


def test_close_prompt_errors_at_the_field_reload_and_progress(incident, browser_context, artifacts_dir):
    page = browser_context.new_page()
    incident_path = f"/acme/incidents/{incident.public_id}/"
    sign_in(page, incident_path, EMAIL)

    # The control says it opens choices; each choice says what it does.
    prompt = page.get_by_test_id("close-choice")
    summary = prompt.locator("summary")
    expect(summary).to_have_text("Close incident…")
    summary.click()
    expect(prompt.get_by_role("button", name="Close and run the learning flow")).to_be_visible()
    expect(prompt).to_contain_text("Closes the incident and moves it to Documenting.")
    expect(prompt.get_by_role("button", name="Close without the learning flow")).to_be_visible()
    expect(prompt.get_by_label("Why close without the learning flow?")).to_be_visible()

    # Opting out without a reason: the error is next to the field, on the incident page's URL.
    prompt.get_by_role("button", name="Close without the learning flow").click()
    reason = page.locator("#opt-out-reason")
    expect(reason).to_be_visible()  # the prompt is open again
    expect(reason).to_have_attribute("aria-invalid", "true")
    error = page.locator("#opt-out-reason-error")
    expect(error).to_have_text("Say why the learning flow is skipped; the reason is kept and shared.")
    assert error.evaluate("(e) => e.closest('.field').contains(document.getElementById('opt-out-reason'))")
    expect(page.get_by_test_id("action-error")).to_have_count(0)  # no banner at the top
    assert not page.url.split("#")[0].endswith("/close/")
    assert page.url.split("#")[0].endswith(incident_path)
    page.screenshot(path=str(artifacts_dir / "close-prompt-error.png"), full_page=True)

    # A reload is a GET of the incident page: 200, not 405.
    response = page.reload()
    assert response is not None and response.status == 200
    expect(page.get_by_test_id("incident-title")).to_contain_text("Cache stampede")

    # Into the flow: every status shows, the coming one greyed and marked next.
    page.get_by_test_id("close-choice").locator("summary").click()
    page.get_by_role("button", name="Close and run the learning flow").click()
    steps = page.get_by_test_id("flow-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("Documenting")
    expect(steps.nth(0)).to_contain_text("current · 0 of 4 done")
    expect(steps.nth(1)).to_contain_text("Reviewing")
    expect(steps.nth(1)).to_contain_text("next · 4 tasks")
    expect(steps.nth(1)).to_have_class(re.compile(r"\bstep-upcoming\b"))
    expect(page.get_by_test_id("status-progress")).to_have_text("0 of 4 done")
    page.screenshot(path=str(artifacts_dir / "learning-progress.png"), full_page=True)

    # Each task done counts; the last one done announces the move.
    for done in range(1, 4):
        outstanding(page).first.get_by_role("button", name="Complete").click()
        expect(steps.nth(0)).to_contain_text(f"current · {done} of 4 done")
        expect(page.locator(".flash-success")).to_have_text("Task completed.")
    outstanding(page).first.get_by_role("button", name="Complete").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Task completed. All Documenting tasks are done: the incident moved to Reviewing."
    )
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Reviewing")
    expect(steps.nth(0)).to_contain_text("4 of 4 done")
    expect(steps.nth(0)).to_have_class(re.compile(r"\bstep-done\b"))
    expect(steps.nth(1)).to_contain_text("current · 0 of 4 done")
    page.screenshot(path=str(artifacts_dir / "learning-moved.png"), full_page=True)
