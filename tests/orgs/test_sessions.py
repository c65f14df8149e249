"""Multi-organization sessions (docs/multi-org-sessions.md) through the real sign-in page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from orgs.models import Membership, Role
from tests.conftest import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _csrf_token(client: Client) -> str:
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def test_each_sign_in_rotates_session_key_and_csrf_token(owner, outsider, acme, globex):
    client = Client()
    client.get("/accounts/login/")  # sets the first CSRF cookie
    keys, tokens = [], [_csrf_token(client)]

    sign_in(client, owner, "acme")
    keys.append(_session_key(client))
    tokens.append(_csrf_token(client))

    sign_in(client, outsider, "globex")  # a different user in the same browser
    keys.append(_session_key(client))
    tokens.append(_csrf_token(client))

    sign_in(client, owner, "acme")  # the same user again
    keys.append(_session_key(client))
    tokens.append(_csrf_token(client))

    assert len(set(keys)) == 3
    assert len(set(tokens)) == 4
    # The superseded session rows are gone, not merely unused.
    assert not Session.objects.filter(session_key__in=keys[:-1]).exists()


def test_two_orgs_as_two_identities_in_one_browser(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")

    acme_page = client.get("/acme/")
    globex_page = client.get("/globex/")

    assert acme_page.status_code == 200 and globex_page.status_code == 200
    assert acme_page.context["request"].user == owner
    assert globex_page.context["request"].user == outsider
    assert "owner@acme.test" in acme_page.content.decode()
    assert "outsider@globex.test" in globex_page.content.decode()
    # The avatar menu lists both org sessions with their identities.
    held = [(m.org.slug, m.user.email) for m in acme_page.context["held_org_memberships"]]
    assert held == [("acme", "owner@acme.test"), ("globex", "outsider@globex.test")]


def test_org_identity_is_never_borrowed_from_another_org(owner, acme, globex):
    """owner is also a member of globex, but this browser only signed in for acme."""
    MembershipFactory(org=globex, user=owner, role=Role.VIEWER)
    client = Client()
    sign_in(client, owner, "acme")

    response = client.get("/globex/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/globex/"


def test_plain_sign_in_opens_every_org_of_the_user(owner, acme, globex):
    MembershipFactory(org=globex, user=owner, role=Role.VIEWER)
    client = Client()
    response = sign_in(client, owner, None)

    assert response.url == "/"
    assert client.get("/acme/").status_code == 200
    assert client.get("/globex/").status_code == 200


def test_org_without_session_goes_to_sign_in_the_same_whether_or_not_it_exists(owner, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")

    existing = client.get("/globex/settings/")
    missing = client.get("/no-such-org/settings/")

    assert existing.status_code == missing.status_code == 302
    assert existing.url == "/accounts/login/?next=/globex/settings/"
    assert missing.url == "/accounts/login/?next=/no-such-org/settings/"


def test_signing_in_as_non_member_adds_nothing(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    before = dict(client.session["_org_sessions"])

    response = client.post(
        "/accounts/login/",
        {"login": outsider.email, "password": "correct-horse-battery", "next": "/acme/"},
        follow=True,
    )
    assert "outsider@globex.test has no access to an organization at /acme/" in response.content.decode()

    assert client.session["_org_sessions"] == before
    # acme still acts as its own identity, not as the newcomer.
    assert client.get("/acme/").context["request"].user == owner
    # The non-member's own org was not opened either.
    assert client.get("/globex/").status_code == 302


def test_removed_member_loses_access_on_next_request(responder, acme, signed_in):
    client = signed_in(responder, acme)
    assert client.get("/acme/").status_code == 200

    Membership.objects.filter(org=acme, user=responder).delete()

    assert client.get("/acme/").status_code == 404
    assert client.get("/acme/preferences/").status_code == 404


def test_deactivated_user_loses_access(responder, acme, signed_in):
    client = signed_in(responder, acme)
    responder.is_active = False
    responder.save()
    assert client.get("/acme/").status_code == 404


def test_signing_out_of_one_org_keeps_the_others(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")
    old_cookie = _session_key(client)

    response = client.post("/globex/sign-out/")

    assert response.status_code == 302
    assert client.get("/acme/").status_code == 200
    assert client.get("/acme/").context["request"].user == owner
    assert client.get("/globex/").url == "/accounts/login/?next=/globex/"

    # A copy of the cookie from before signing out gets nothing from globex.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    assert replay.get("/globex/").status_code == 302
    assert _session_key(client) != old_cookie


def test_signing_out_of_an_org_moves_the_account_identity_off_that_user(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")  # account identity is now outsider

    client.post("/globex/sign-out/")

    # Account-level pages now act as the identity still held (owner), not outsider.
    page = client.get("/organizations/new/")
    assert page.context["request"].user == owner


def test_sign_out_of_all(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")

    client.post("/account/sign-out/")

    assert client.get("/acme/").status_code == 302
    assert client.get("/globex/").status_code == 302


def test_last_org_sign_out_signs_out_completely(owner, acme, signed_in):
    client = signed_in(owner, acme)
    client.post("/acme/sign-out/")
    assert client.get("/acme/").status_code == 302
    assert client.get("/").url == "/accounts/login/"


def test_password_change_ends_the_users_other_sessions_but_not_this_one(owner, outsider, acme, globex, signed_in):
    other_browser = signed_in(owner, acme)
    this_browser = signed_in(owner, acme)
    sign_in(this_browser, outsider, "globex")

    response = this_browser.post(
        "/acme/preferences/",
        {
            "action": "password",
            "old_password": "correct-horse-battery",
            "new_password1": "a-brand-new-passphrase-42",
            "new_password2": "a-brand-new-passphrase-42",
        },
    )

    assert response.status_code == 302
    assert this_browser.get("/acme/").status_code == 200
    assert this_browser.get("/globex/").status_code == 200
    assert other_browser.get("/acme/").url == "/accounts/login/?next=/acme/"


def test_session_survives_a_new_client_with_the_same_cookie(owner, acme, signed_in):
    """Sessions live in the database, not in a process: a restarted server sees them."""
    client = signed_in(owner, acme)
    restarted = Client()
    restarted.cookies[settings.SESSION_COOKIE_NAME] = _session_key(client)
    assert restarted.get("/acme/").context["request"].user == owner


def test_post_without_csrf_token_is_refused(owner, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)  # only to get past sign-in; the org session is bound below
    session = client.session
    session["_org_sessions"] = {"acme": {"uid": owner.pk, "hash": owner.get_session_auth_hash()}}
    session.save()

    response = client.post("/acme/settings/", {"name": "Renamed"})

    assert response.status_code == 403
    acme.refresh_from_db()
    assert acme.name == "Acme Inc."


def test_login_post_without_csrf_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": owner.email, "password": "correct-horse-battery"})
    assert response.status_code == 403
    assert "_org_sessions" not in client.session


def test_sixth_failed_sign_in_for_one_email_within_five_minutes_is_refused(owner, acme):
    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": owner.email, "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    # Even the right password is refused now: the counter is per e-mail.
    response = client.post("/accounts/login/", {"login": owner.email, "password": "correct-horse-battery"})
    assert "Too many failed sign-ins for this e-mail" in response.content.decode()
    assert "_org_sessions" not in client.session
    assert client.get("/acme/").status_code == 302


def test_invalid_org_slug_in_session_map_for_deleted_org_is_404(owner, signed_in):
    org = OrganizationFactory(slug="temp")
    MembershipFactory(org=org, user=owner, role=Role.OWNER)
    client = signed_in(owner, org)
    org.delete()
    assert client.get("/temp/").status_code == 404


def test_user_without_orgs_is_sent_to_create_one():
    user = UserFactory()
    client = Client()
    sign_in(client, user, None)
    assert client.get("/").url == "/organizations/new/"


def test_signing_in_again_as_the_same_person_rotates_the_session_key(owner, acme, globex):
    MembershipFactory(org=globex, user=owner, role=Role.VIEWER)
    client = Client()
    sign_in(client, owner, "acme")
    before = _session_key(client)
    sign_in(client, owner, "globex")  # "+ Add organization" as the same person
    assert _session_key(client) != before
    assert client.get("/acme/").status_code == 200 and client.get("/globex/").status_code == 200


def test_refused_sign_in_leaves_the_account_identity_alone(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    client.post("/accounts/login/", {"login": outsider.email, "password": "correct-horse-battery", "next": "/acme/"})
    assert client.get("/organizations/new/").context["request"].user == owner


def test_password_change_elsewhere_keeps_other_peoples_org_sessions(owner, outsider, acme, globex, signed_in):
    shared = Client()
    sign_in(shared, outsider, "globex")
    sign_in(shared, owner, "acme")  # the account identity is now owner

    owner.set_password("changed-in-another-browser-1")
    owner.save()

    # An account-level page notices owner's session lapsed...
    assert shared.get("/organizations/new/").status_code == 302
    # ...but outsider's globex session in this browser survives, and owner's acme one does not.
    assert shared.get("/globex/").context["request"].user == outsider
    assert shared.get("/acme/").status_code == 302


def test_allauth_password_change_page_keeps_this_browsers_org_sessions(owner, acme, signed_in):
    client = signed_in(owner, acme)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "correct-horse-battery", "password1": "fresh-passphrase-77", "password2": "fresh-passphrase-77"},
    )
    assert response.status_code == 302
    assert client.get("/acme/").status_code == 200


def test_django_admin_signs_in_through_the_same_rate_limited_page(db):
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_root_skips_an_org_the_user_was_removed_from(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")
    Membership.objects.filter(org=globex, user=outsider).delete()
    assert client.get("/").url == "/acme/"


def test_sign_out_hands_the_account_identity_to_an_active_identity(owner, outsider, acme, globex):
    third = UserFactory(email="third@acme.test")
    MembershipFactory(org=OrganizationFactory(slug="initech"), user=third, role=Role.OWNER)
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, third, "initech")
    sign_in(client, outsider, "globex")
    third.is_active = False
    third.save()

    client.post("/globex/sign-out/")

    assert client.get("/organizations/new/").context["request"].user == owner
    assert client.get("/acme/").status_code == 200


def test_a_form_left_open_across_a_sign_in_gets_a_friendly_expired_page(owner, outsider, acme, globex):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/?next=/acme/")
    token = page.context["csrf_token"]
    client.post("/accounts/login/", {"login": owner.email, "password": "correct-horse-battery", "next": "/acme/", "csrfmiddlewaretoken": token})
    stale = client.get("/acme/").context["csrf_token"]
    # Another tab signs in to globex: the token rotates.
    fresh = client.get("/accounts/login/?next=/globex/").context["csrf_token"]
    client.post("/accounts/login/", {"login": outsider.email, "password": "correct-horse-battery", "next": "/globex/", "csrfmiddlewaretoken": fresh})

    response = client.post("/acme/sign-out/", {"csrfmiddlewaretoken": stale}, HTTP_REFERER="http://testserver/acme/")

    assert response.status_code == 403
    assert "This page expired" in response.content.decode()
    assert 'href="http://testserver/acme/"' in response.content.decode()
    assert client.get("/acme/").status_code == 200  # nothing was signed out


def test_plain_sign_in_replaces_an_org_session_whose_identity_was_removed(owner, admin, acme):
    client = Client()
    sign_in(client, admin, "acme")
    Membership.objects.filter(org=acme, user=admin).delete()
    assert client.get("/acme/").status_code == 404

    sign_in(client, owner, None)  # a plain sign-in as someone who is a member

    assert client.get("/acme/").context["request"].user == owner
