"""Open tabs that survive other tabs (issue 21, item 1; docs/dashboard.md,
"Open tabs and typed text"), clicked through in Chromium.

alice owns acme; bob owns globex. Tab A shows an Acme incident with an update
being typed. Tab B, the same browser, signs in or out. Every sign-in rotates
the CSRF token (docs/multi-org-sessions.md); static/js/forms.js sends the
current one at submit time, and keeps what was typed until a post succeeds.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import Role
from tests.browser.helpers import fill_sign_in, sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = "alice@acme.test"
BOB = "bob@globex.test"
GLOBEX = "Globex Corporation"


@pytest.fixture
def incident_path():
    """acme owned by alice, with a live incident; globex owned by bob."""
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    globex = OrganizationFactory(slug="globex", name=GLOBEX)
    alice = UserFactory(email=ALICE, name="Alice Owner")
    MembershipFactory(org=acme, role=Role.OWNER, user=alice)
    MembershipFactory(org=globex, role=Role.OWNER, user=UserFactory(email=BOB))
    incident = incident_declare(org=acme, actor=Actor.for_user(alice), name="Checkout is down")
    return f"/acme/incidents/{incident.public_id}/"


# --- What a user does and sees -------------------------------------------------------


def update_box(page: Page) -> Locator:
    return page.locator("form.update-form textarea[name=message]")


def post_update(page: Page) -> None:
    page.get_by_role("button", name="Post update").click()


def avatar_menu(page: Page) -> Locator:
    menu = page.get_by_test_id("avatar-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return menu


def expect_on_timeline(page: Page, text: str) -> None:
    expect(page.get_by_text("Update posted.")).to_be_visible()
    expect(page.get_by_test_id("timeline").locator("li.event").first).to_contain_text(text)


def csrf_cookie(context: BrowserContext) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


# --- The scenarios --------------------------------------------------------------------


def test_a_typed_update_survives_adding_an_org_and_signing_out_of_it_in_another_tab(
    incident_path, browser_context
):
    tab_a = browser_context.new_page()
    sign_in(tab_a, incident_path, ALICE)
    expect(update_box(tab_a)).to_be_visible()
    token_at_load = csrf_cookie(browser_context)

    # Tab A types an update; meanwhile tab B adds globex as bob ("+ Add organization").
    update_box(tab_a).fill("Rolled back the deploy; error rate falling.")
    tab_b = browser_context.new_page()
    tab_b.goto("/acme/")
    avatar_menu(tab_b).get_by_role("link", name="+ Add organization").click()
    tab_b.locator("input[name=slug]").fill("globex")
    tab_b.get_by_role("button", name="Continue to sign in").click()
    fill_sign_in(tab_b, BOB)
    expect(tab_b.get_by_test_id("org-name")).to_contain_text(GLOBEX)
    assert csrf_cookie(browser_context) != token_at_load  # the sign-in rotated the token

    post_update(tab_a)
    expect_on_timeline(tab_a, "Rolled back the deploy; error rate falling.")

    # Again, typing while tab B signs out of globex (which hands the account back to alice: a sign-in).
    token_before = csrf_cookie(browser_context)
    update_box(tab_a).fill("Error rate back to normal.")
    avatar_menu(tab_b).get_by_role("button", name=f"Sign out of {GLOBEX}").click()
    expect(tab_b.get_by_text(f"Signed out of {GLOBEX}.")).to_be_visible()
    assert csrf_cookie(browser_context) != token_before

    post_update(tab_a)
    expect_on_timeline(tab_a, "Error rate back to normal.")

    # Sent, so not offered again.
    tab_a.reload()
    expect(update_box(tab_a)).to_have_value("")
    expect(tab_a.get_by_test_id("draft-restored")).to_have_count(0)


def test_a_post_refused_because_another_tab_signed_out_keeps_the_text_to_send_again(incident_path, browser_context):
    tab_a = browser_context.new_page()
    sign_in(tab_a, incident_path, ALICE)
    update_box(tab_a).fill("Customers can check out again.")

    # Tab B signs out of acme itself: tab A's org session is gone.
    tab_b = browser_context.new_page()
    tab_b.goto("/acme/")
    avatar_menu(tab_b).get_by_role("button", name="Sign out of Acme Inc.").click()

    post_update(tab_a)
    expect(tab_a).to_have_url(re.compile(r"/accounts/login/\?"))
    expect(tab_a.get_by_text("Nothing was sent")).to_be_visible()
    expect(tab_a.get_by_test_id("draft-kept")).to_contain_text("Your text is kept")

    # Signing back in comes back to the incident page, the text in the form again.
    fill_sign_in(tab_a, ALICE)
    expect(tab_a).to_have_url(re.compile(re.escape(incident_path) + "$"))
    expect(tab_a.get_by_test_id("draft-restored")).to_contain_text("Restored the text you had not sent")
    expect(update_box(tab_a)).to_have_value("Customers can check out again.")

    post_update(tab_a)
    expect_on_timeline(tab_a, "Customers can check out again.")
    expect(tab_a.get_by_test_id("draft-restored")).to_have_count(0)
    expect(update_box(tab_a)).to_have_value("")


def test_an_expired_page_keeps_the_text_and_a_restored_draft_can_be_discarded(incident_path, browser_context):
    tab = browser_context.new_page()
    sign_in(tab, incident_path, ALICE)
    update_box(tab).fill("Paging the database team.")

    # The token cannot be picked up (the browser lost the cookie): Django refuses the post.
    browser_context.clear_cookies(name="csrftoken")
    post_update(tab)
    expect(tab.get_by_role("heading", name="This page expired")).to_be_visible()
    expect(tab.get_by_test_id("draft-kept")).to_contain_text("Your text is kept")

    tab.get_by_role("link", name="Go back and send it again").click()
    expect(update_box(tab)).to_have_value("Paging the database team.")
    restored = tab.get_by_test_id("draft-restored")
    expect(restored).to_contain_text("Restored the text you had not sent")

    # Discarding empties the form and forgets the draft.
    restored.get_by_role("button", name="Discard").click()
    expect(update_box(tab)).to_have_value("")
    tab.reload()
    expect(update_box(tab)).to_have_value("")
    expect(tab.get_by_test_id("draft-restored")).to_have_count(0)


def test_a_draft_comes_back_in_a_form_loaded_on_demand(incident_path, browser_context):
    tab = browser_context.new_page()
    sign_in(tab, incident_path, ALICE)
    follow_up = tab.get_by_test_id("form-follow-up")
    follow_up.locator("summary").click()
    follow_up.locator("input[name=title]").fill("Add an alert on checkout errors")

    # The page is left before the form is sent; the form arrives again only when opened.
    tab.reload()
    follow_up = tab.get_by_test_id("form-follow-up")
    follow_up.locator("summary").click()
    expect(follow_up.locator("input[name=title]")).to_have_value("Add an alert on checkout errors")
    expect(follow_up.get_by_test_id("draft-restored")).to_contain_text("Restored the text you had not sent")

    follow_up.get_by_role("button", name="Add follow-up").click()
    expect(tab.get_by_test_id("follow-ups")).to_contain_text("Add an alert on checkout errors")
    tab.reload()
    tab.get_by_test_id("form-follow-up").locator("summary").click()
    expect(tab.get_by_test_id("form-follow-up").locator("input[name=title]")).to_have_value("")
    expect(tab.get_by_test_id("draft-restored")).to_have_count(0)
