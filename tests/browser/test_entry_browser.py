"""Signing in, adding an organization, Slack settings, empty states (docs/dashboard.md,
"Signing in and adding an organization", "Slack settings"), clicked through in Chromium."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orgs.models import Role
from tests.browser.helpers import fill_sign_in, open_avatar_menu, sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = "alice@acme.test"
ACME = "Acme Inc."
GLOBEX = "Globex Corporation"
WIDTHS = {"desktop": (1440, 900), "laptop": (1024, 768), "phone": (390, 844)}


@pytest.fixture
def alice():
    """alice owns acme (joined long ago) and is an admin of globex (joined since)."""
    acme = OrganizationFactory(slug="acme", name=ACME)
    globex = OrganizationFactory(slug="globex", name=GLOBEX)
    alice = UserFactory(email=ALICE, name="Alice Admin")
    MembershipFactory(org=acme, user=alice, role=Role.OWNER, created_at=timezone.now() - timedelta(days=30))
    MembershipFactory(org=globex, user=alice, role=Role.ADMIN, created_at=timezone.now() - timedelta(days=1))
    return alice




def test_alice_holding_globex_adds_acme_and_later_lands_in_it(alice, browser_context):
    page = browser_context.new_page()
    sign_in(page, "/globex/", ALICE)
    expect(page).to_have_url(re.compile(r"/globex/$"))

    # The avatar names her, the e-mail beneath; adding an org is the menu's last group.
    expect(page.get_by_test_id("identity")).to_have_text("Alice Admin")
    expect(page.get_by_test_id("identity-email")).to_have_text(ALICE)
    menu = open_avatar_menu(page)
    items = menu.locator(".menu-item").all_inner_texts()
    assert items.index("Sign out of all") < items.index("+ Add organization") < items.index("Create organization")
    menu.get_by_role("link", name="+ Add organization").click()

    # The page says what it does, what this browser holds, and how to go back.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an organization to this browser")
    expect(page.get_by_test_id("held-orgs")).to_contain_text(GLOBEX)
    back = page.get_by_test_id("back-link")
    expect(back).to_have_text(f"← Back to {GLOBEX}")
    back.click()
    expect(page).to_have_url(re.compile(r"/globex/$"))

    open_avatar_menu(page).get_by_role("link", name="+ Add organization").click()
    page.get_by_label("Organization URL").fill("acme")
    page.get_by_role("button", name="Continue to sign in").click()

    # The sign-in page names the org being added and still offers the way back.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add /acme/ to this browser")
    expect(page.get_by_test_id("held-orgs")).to_contain_text(GLOBEX)
    expect(page.get_by_test_id("back-link")).to_have_attribute("href", "/globex/")
    fill_sign_in(page, ALICE, "correct-horse-battery")
    expect(page).to_have_url(re.compile(r"/acme/$"))
    expect(page.get_by_test_id("org-name")).to_contain_text(ACME)

    # Acme is the org she used last: "/" goes there, and so does her next sign-in,
    # although globex is the org she joined most recently.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/acme/$"))
    open_avatar_menu(page).get_by_role("button", name="Sign out of all").click()
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to incidentio")
    fill_sign_in(page, ALICE, "correct-horse-battery")
    expect(page).to_have_url(re.compile(r"/acme/$"))


def test_sign_in_errors_sit_at_their_fields(alice, browser_context):
    page = browser_context.new_page()
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Continue").click()

    login = page.locator(".field.has-error", has=page.get_by_label("E-mail"))
    expect(login.locator(".error")).to_have_text("Enter your e-mail address.")

    page.get_by_label("E-mail").fill(ALICE)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Sign in").click()
    password = page.locator(".field.has-error", has=page.get_by_label("Password"))
    expect(password.locator(".error")).to_have_text("Enter your password.")

    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    # Neither field is at fault alone: said once, at the top of the form.
    expect(page.locator("form .flash-error")).to_have_text(re.compile("^That e-mail and password do not match"))
    expect(page.locator(".field.has-error")).to_have_count(0)
    expect(page.get_by_label("E-mail")).to_have_value(ALICE)


def test_a_new_org_prompts_for_its_first_incident(browser_context):
    org = OrganizationFactory(slug="newco", name="NewCo")
    MembershipFactory(org=org, role=Role.RESPONDER, user=UserFactory(email="rita@newco.test", name="Rita"))
    page = browser_context.new_page()
    sign_in(page, "/newco/incidents/", "rita@newco.test")

    prompt = page.get_by_test_id("first-incident")
    expect(prompt).to_contain_text("An incident is anything that hurts your customers or your team")
    prompt.get_by_role("link", name="Declare your first incident").click()
    expect(page).to_have_url(re.compile(r"/newco/incidents/declare/$"))


@pytest.mark.parametrize("width", WIDTHS)
def test_overview_stat_cards_leave_no_lone_card_on_a_row(alice, browser_context, width):
    page = browser_context.new_page()
    page.set_viewport_size({"width": WIDTHS[width][0], "height": WIDTHS[width][1]})
    sign_in(page, "/acme/", ALICE)  # an owner: five cards
    stats = page.get_by_test_id("stats")
    expect(stats.locator(".card.stat")).to_have_count(5)

    grid = stats.bounding_box()
    rows: dict[int, list[dict]] = {}
    for card in stats.locator(".card.stat").all():
        box = card.bounding_box()
        rows.setdefault(round(box["y"]), []).append(box)
    for cards in rows.values():
        # Every row is filled edge to edge: no card alone beside an empty space.
        left = min(box["x"] for box in cards)
        right = max(box["x"] + box["width"] for box in cards)
        assert abs(left - grid["x"]) < 2 and abs(right - (grid["x"] + grid["width"])) < 2, (width, rows)
    assert len(rows[max(rows)]) >= 2, (width, rows)  # the last row is never a single card


def _slack_page(page: Page) -> None:
    sign_in(page, "/acme/settings/slack/", ALICE)
    expect(page.get_by_role("heading", name="Slack")).to_be_visible()


def test_slack_settings_with_a_slack_app_offer_add_to_slack_first(alice, browser_context, live_server, settings):
    settings.SITE_URL = live_server.url
    settings.SLACK_CLIENT_ID, settings.SLACK_CLIENT_SECRET = "1234.5678", "client-secret"
    page = browser_context.new_page()
    _slack_page(page)

    add = page.get_by_role("link", name="Add to Slack")
    expect(add).to_be_visible()
    manual = page.get_by_test_id("slack-manual")
    expect(manual).not_to_have_attribute("open", "")
    expect(page.get_by_test_id("slack-request-url")).to_be_hidden()  # folded away
    manual.locator("summary").click()
    expect(page.get_by_test_id("slack-request-url")).to_have_text(f"{live_server.url}/slack/events")
    assert add.bounding_box()["y"] < manual.bounding_box()["y"]


def test_slack_settings_without_a_slack_app_show_site_url_based_urls_to_copy(
    alice, browser_context, live_server, settings
):
    settings.SITE_URL = live_server.url
    settings.SLACK_CLIENT_ID = settings.SLACK_CLIENT_SECRET = ""
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = browser_context.new_page()
    _slack_page(page)

    expect(page.get_by_role("link", name="Add to Slack")).to_have_count(0)
    expect(page.get_by_test_id("slack-manual")).to_have_attribute("open", "")
    expect(page.get_by_test_id("site-url-warning")).to_have_count(0)
    request_url = page.get_by_test_id("slack-request-url")
    expect(request_url).to_have_text(f"{live_server.url}/slack/events")
    expect(page.get_by_test_id("slack-redirect-url")).to_have_text(f"{live_server.url}/slack/oauth_redirect")
    expect(page.get_by_test_id("slack-manifest")).to_contain_text(f"request_url: {live_server.url}/slack/events")

    # The URLs are shown whole: nothing cut at the bottom (underscores) or the side.
    for code in page.locator(".slack-settings code.copy-text").all():
        assert code.evaluate("c => c.scrollHeight <= c.clientHeight && c.scrollWidth <= c.clientWidth"), code.inner_text()

    copy = page.locator('button[data-copy="slack-request-url"]')
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/slack/events"
