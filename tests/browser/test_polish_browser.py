"""Issue items 4 and 10 in Chromium: a live incident's duration so far, "just
now" for something brand new, member selects that show whole names, API-key
roles in words and the avatar's name (docs/dashboard.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole, Role
from orgs.services import api_key_create
from tests.browser.helpers import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "alice@example.com"  # a long address, as in the issue: "Alice Admin (alice@exampl"

# Whether the select's chosen option is drawn whole: its text, in the select's
# font, fits between the paddings and the arrow (16 px).
CHOSEN_TEXT_FITS = """(select) => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const text = select.options[select.selectedIndex].text;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
  return {text, fits: context.measureText(text).width <= room};
}"""


@pytest.fixture
def acme():
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    alice = UserFactory(email=EMAIL, name="Alice Admin")
    MembershipFactory(org=acme, role=Role.OWNER, user=alice)
    MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email="bob@example.com", name="Bob Builder"))
    return acme, alice


def test_a_live_incident_counts_its_duration_and_a_new_one_says_just_now(acme, browser_context):
    org, alice = acme
    running = incident_declare(org=org, actor=Actor.for_user(alice), name="Checkout is down")
    Incident.objects.filter(pk=running.pk).update(reported_at=timezone.now() - timedelta(hours=2, minutes=5))
    incident_declare(org=org, actor=Actor.for_user(alice), name="Search is slow")
    page = browser_context.new_page()
    sign_in(page, "/acme/incidents/", EMAIL)

    fresh = page.get_by_test_id("incident-list").locator("tr", has_text="Search is slow")
    expect(fresh).to_contain_text("just now")
    expect(fresh).not_to_contain_text("0 minutes")

    page.get_by_role("link", name="Checkout is down").click()
    expect(page.get_by_test_id("duration")).to_have_text("2h 5m so far")


def test_member_selects_show_whole_names_and_the_avatar_the_persons_name(acme, browser_context):
    org, alice = acme
    incident = incident_declare(org=org, actor=Actor.for_user(alice), name="Checkout is down", lead=alice)
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, f"/acme/incidents/{incident.public_id}/", EMAIL)

    lead = page.locator("#roles select").first
    chosen = lead.evaluate(CHOSEN_TEXT_FITS)
    assert chosen == {"text": "Alice Admin", "fits": True}
    expect(lead.locator("option")).to_contain_text(["Alice Admin", "Bob Builder"])
    expect(page.get_by_test_id("identity")).to_have_text("Alice Admin")


def test_api_key_roles_are_named_in_words(acme, browser_context):
    org, alice = acme
    api_key_create(org=org, name="Status page", roles=[ApiKeyRole.VIEWER], created_by=alice)
    page = browser_context.new_page()
    sign_in(page, "/acme/settings/api-keys/", EMAIL)

    expect(page.get_by_test_id("key-roles")).to_have_text("Viewer")
    expect(page.locator("main")).not_to_contain_text("viewer,")
    expect(page.get_by_test_id("role-choices")).to_contain_text("Incident editor")
