"""Signing in and adding an organization (docs/dashboard.md, "Signing in and adding
an organization"; docs/multi-org-sessions.md), through the real pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orgs.models import Membership, Role
from tests.conftest import sign_in
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(acme, globex):
    """alice owns acme (joined first) and is an admin of globex (joined later)."""
    alice = UserFactory(email="alice@acme.test", name="Alice Admin")
    MembershipFactory(org=acme, user=alice, role=Role.OWNER, created_at=timezone.now() - timedelta(days=30))
    MembershipFactory(org=globex, user=alice, role=Role.ADMIN, created_at=timezone.now() - timedelta(days=1))
    return alice


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Landing: the org used last --------------------------------------------------


def test_a_plain_sign_in_lands_in_the_org_the_person_used_last(alice):
    elsewhere = Client()  # another browser
    sign_in(elsewhere, alice, None)
    elsewhere.get("/globex/")
    elsewhere.get("/acme/")  # used last

    fresh = Client()
    assert sign_in(fresh, alice, None)["Location"] == "/"
    # Not globex, joined most recently and so bound last by the sign-in: acme, used last.
    assert fresh.get("/")["Location"] == "/acme/"


def test_the_last_used_org_follows_use_not_membership_order(alice):
    client = Client()
    sign_in(client, alice, None)
    client.get("/acme/")
    client.get("/globex/")  # used last now
    client.post("/account/sign-out/")

    fresh = Client()
    sign_in(fresh, alice, None)
    assert fresh.get("/")["Location"] == "/globex/"


def test_never_used_anywhere_lands_in_the_org_joined_first(alice):
    client = Client()
    sign_in(client, alice, None)
    assert client.get("/")["Location"] == "/acme/"


def test_root_goes_to_the_org_this_browser_used_last(alice, outsider):
    client = Client()
    sign_in(client, alice, "acme")
    sign_in(client, outsider, "globex")  # the most recent sign-in is globex…
    client.get("/acme/")  # …but acme was used last

    assert client.get("/")["Location"] == "/acme/"


def test_using_an_org_notes_it_once_not_on_every_page(alice):
    client = Client()
    sign_in(client, alice, "acme")
    client.get("/acme/")
    noted = Membership.objects.get(user=alice, org__slug="acme").last_used_at
    assert noted is not None

    client.get("/acme/incidents/")
    assert Membership.objects.get(user=alice, org__slug="acme").last_used_at == noted


def test_a_pages_background_requests_do_not_count_as_use(alice, outsider):
    client = Client()
    sign_in(client, alice, "acme")
    sign_in(client, outsider, "globex")
    client.get("/acme/", headers={"Sec-Fetch-Dest": "document"})  # the tab the person looks at
    client.get("/globex/incidents/", headers={"Sec-Fetch-Dest": "empty"})  # another tab refreshing itself
    # A live poll from a browser that sends no Sec-Fetch-Dest (static/js/live.js's header).
    client.get("/globex/incidents/", headers={"X-Live-Poll": "1"})

    assert client.get("/")["Location"] == "/acme/"
    assert Membership.objects.get(user=outsider).last_used_at is None


# --- + Add organization ------------------------------------------------------------


def test_add_organization_names_the_orgs_held_and_links_back(alice):
    client = Client()
    sign_in(client, alice, "globex")

    page = _text(client.get("/account/add-organization/?from=globex"))

    assert "Add an organization to this browser" in page
    assert 'data-testid="held-orgs"' in page and "Globex Corporation" in page
    assert re.search(r'href="/globex/" data-testid="back-link">← Back to Globex Corporation<', page)
    assert 'name="from" value="globex"' in page


def test_add_organization_started_for_an_org_names_it(alice):
    client = Client()
    sign_in(client, alice, "globex")

    page = _text(client.get("/account/add-organization/?org=acme"))

    assert "Adding <strong>/acme/</strong>" in page
    assert 'value="acme"' in page


def test_add_organization_ignores_a_back_target_this_browser_does_not_hold(alice, acme):
    client = Client()
    sign_in(client, alice, "globex")

    page = _text(client.get("/account/add-organization/?from=acme&org=%3Cscript%3E"))

    # Back to the org this browser holds, not to the one named in the URL.
    assert "← Back to Globex Corporation" in page and "Back to Acme" not in page
    assert "<script>" not in page and "Adding" not in page


def test_the_sign_in_page_for_an_added_org_names_it_and_links_back(alice):
    client = Client()
    sign_in(client, alice, "globex")

    response = client.post("/account/add-organization/", {"slug": "acme", "from": "globex"})
    assert response["Location"] == "/accounts/login/?next=%2Facme%2F"
    page = _text(client.get(response["Location"]))

    assert "Add /acme/ to this browser" in page
    assert "Globex Corporation" in page  # already held
    assert "← Back to Globex Corporation" in page

    landed = sign_in(client, alice, "acme")
    assert landed["Location"] == "/acme/"
    assert client.get("/")["Location"] == "/acme/"


def test_a_bad_slug_is_refused_beside_the_field(alice):
    client = Client()
    sign_in(client, alice, "globex")

    response = client.post("/account/add-organization/", {"slug": "Not a slug!", "from": "globex"})

    assert response.status_code == 400
    page = _text(response)
    assert re.search(r'<div class="field has-error">.*name="slug".*<small class="error">Use 1–50 lowercase', page)


# --- The sign-in page -----------------------------------------------------------------


def test_sign_in_page_in_our_words():
    client = Client()
    page = _text(client.get("/accounts/login/"))

    assert "<h1>Sign in to incidentio</h1>" in page
    assert ">Continue</button>" in page  # the e-mail first
    assert "Forgot your password?" in page
    assert "Sign In" not in page
    page = _text(client.post("/accounts/login/", {"login": "someone@example.com"}))
    assert ">Sign in</button>" in page
    assert "Sign In" not in page


def test_sign_in_field_errors_sit_at_their_fields():
    response = Client().post("/accounts/login/", {"login": "not-an-address", "password": ""})

    page = _text(response)
    login_field = re.search(r'<div class="field has-error"><label for="id_login">E-mail</label>.*?</div>', page)
    password_field = re.search(r'<div class="field has-error"><label for="id_password">Password</label>.*?</div>', page)
    assert login_field and "Enter an e-mail address" in login_field.group(0)
    assert password_field and "Enter your password." in password_field.group(0)
    assert "flash-error" not in page  # nothing at the top: each error is at its field


def test_wrong_password_is_said_at_the_top_of_the_form(owner):
    page = _text(Client().post("/accounts/login/", {"login": owner.email, "password": "wrong"}))

    assert '<div class="flash flash-error">That e-mail and password do not match an account.' in page


# --- The avatar -----------------------------------------------------------------------


def test_the_avatar_shows_the_name_with_the_email_beside_it(alice):
    client = Client()
    sign_in(client, alice, "acme")

    page = _text(client.get("/acme/"))

    assert '<span class="who-name" data-testid="identity">Alice Admin</span>' in page
    assert '<span class="who-email" data-testid="identity-email">alice@acme.test</span>' in page


def test_the_avatar_falls_back_to_the_email(acme):
    nameless = UserFactory(email="nameless@acme.test", name="")
    MembershipFactory(org=acme, user=nameless, role=Role.RESPONDER)
    client = Client()
    sign_in(client, nameless, "acme")

    page = _text(client.get("/acme/"))

    assert '<span class="who-name" data-testid="identity">nameless@acme.test</span>' in page
    assert "identity-email" not in page


def test_the_avatar_menu_puts_adding_an_org_last(alice):
    client = Client()
    sign_in(client, alice, "acme")

    page = _text(client.get("/acme/"))
    menu = page[page.index('class="menu"'):]

    order = [menu.index(label) for label in ("Preferences", "Sign out of all", "+ Add organization", "Create organization")]
    assert order == sorted(order)
    assert 'href="/account/add-organization/?from=acme"' in menu


# --- The Overview's greeting and error messages -----------------------------------------


def test_the_overview_greets_by_name_with_the_email_beside_it(alice):
    client = Client()
    sign_in(client, alice, "acme")

    page = _text(client.get("/acme/"))

    assert "You are signed in as <strong>Alice Admin</strong> (alice@acme.test) · Owner" in page


def test_an_error_message_is_announced_at_once_and_a_notice_politely(alice):
    client = Client()
    sign_in(client, alice, "acme")

    refused = _text(client.post("/acme/preferences/", {"action": "no-such-action"}))
    assert refused.count('role="alert"') == 1
    assert '<div class="flash flash-error" role="alert">Unknown action.</div>' in refused

    saved = _text(client.post("/acme/preferences/", {"action": "profile", "name": "Alice A."}, follow=True))
    assert '<div class="flash flash-success" role="status">Profile saved.</div>' in saved
    assert 'role="alert"' not in saved
