"""Review fixes for SSO sessions and entry points (docs/sso.md): what an org's
IdP hands a browser must stay in that org.

- signing out of another org never makes an SSO-bound identity the account identity;
- an SSO-bound org session cannot create organizations as its person;
- a hostile site cannot start a sign-in that the IdP answers on its own (login CSRF);
- a round trip that outlives "Switch off" signs nobody in.

Through the Django test client against the OpenID Connect IdP on loopback.
"""

from __future__ import annotations

import html

import pytest
from django.test import Client

from orgs import sessions
from orgs.models import Membership, Organization, Role, User
from orgs.sso.models import OrgSSO
from tests.conftest import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.sso.fixtures_oidc import idp_answer, oidc_round_trip, oidc_sso_for
from tests.sso.outcomes import assert_error_page, snapshot
from tests.sso.signin_support import account_identity, held_orgs

pytestmark = pytest.mark.django_db

START = "/account/sso/acme/start/?next=/acme/"


@pytest.fixture
def contractor(acme):
    """Uma: a password, a membership of acme and of another customer's org."""
    uma = MembershipFactory(org=acme, role=Role.VIEWER, user=UserFactory(email="uma@contractors.test")).user
    MembershipFactory(org=OrganizationFactory(slug="initech", name="Initech"), role=Role.OWNER, user=uma)
    return uma


@pytest.fixture
def acme_idp_signs_in_uma(acme, contractor, oidc_idp):
    """acme's IdP (whose admins choose what it asserts) answers as Uma."""
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("acme-idp-uma", contractor.email)
    return oidc_idp


# --- 1. signing out of another org -----------------------------------------------


def test_signing_out_of_your_own_org_does_not_hand_you_the_sso_identitys_account(
        outsider, contractor, acme_idp_signs_in_uma):
    client = Client()
    sign_in(client, outsider, "globex")  # the attacker's own org, by password
    assert oidc_round_trip(client, START, acme_idp_signs_in_uma)["Location"] == "/acme/"
    assert account_identity(client) == str(outsider.pk)

    client.post("/globex/sign-out/")

    assert account_identity(client) is None  # not Uma's account
    assert client.get("/accounts/email/").status_code == 302  # no account page to add an address on
    assert held_orgs(client) == {"acme": sessions.VIA_SSO}  # acme's session keeps working
    assert client.get("/acme/").status_code == 200


def test_the_account_identity_moves_to_a_password_session_older_than_the_sso_one(
        owner, outsider, contractor, acme_idp_signs_in_uma):
    other = MembershipFactory(org=OrganizationFactory(slug="hooli", name="Hooli"), role=Role.OWNER,
                              user=UserFactory(email="hal@hooli.test")).user
    client = Client()
    sign_in(client, other, "hooli")
    assert oidc_round_trip(client, START, acme_idp_signs_in_uma)["Location"] == "/acme/"
    sign_in(client, outsider, "globex")

    client.post("/globex/sign-out/")

    assert account_identity(client) == str(other.pk)


# --- 2. creating an organization from an org session ------------------------------


def test_an_sso_bound_session_cannot_create_an_organization_as_its_person(contractor, acme_idp_signs_in_uma):
    client = Client()
    assert oidc_round_trip(client, START, acme_idp_signs_in_uma)["Location"] == "/acme/"
    orgs_before, memberships_before = list(Organization.objects.values_list("slug")), snapshot()

    page = client.get("/acme/organizations/new/")
    response = client.post("/acme/organizations/new/", {"name": "Evil", "slug": "evil"})

    for answer in (page, response):
        text = " ".join(html.unescape(answer.content.decode()).split())
        assert answer.status_code == 403, text[:2000]
        assert ("You are signed in to Acme Inc. through its single sign-on. Sign in with your password "
                "to create an organization.") in text
        assert 'name="slug"' not in text
    assert list(Organization.objects.values_list("slug")) == orgs_before
    assert snapshot() == memberships_before
    assert held_orgs(client) == {"acme": sessions.VIA_SSO}


def test_a_password_session_still_creates_an_organization_bound_by_password(owner, acme):
    client = Client()
    sign_in(client, owner, "acme")

    response = client.post("/acme/organizations/new/", {"name": "Sandbox", "slug": "sandbox"})

    assert response.status_code == 302 and response["Location"] == "/sandbox/"
    assert Membership.objects.get(org__slug="sandbox").user == owner
    assert held_orgs(client)["sandbox"] == sessions.VIA_PASSWORD


def test_a_person_only_the_idp_lets_in_creates_an_organization_as_the_account_identity(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-nia", "nia@acme.test")
    client = Client()
    assert oidc_round_trip(client, START, oidc_idp)["Location"] == "/acme/"
    nia = User.objects.get(email="nia@acme.test")
    assert account_identity(client) == str(nia.pk)  # the IdP is the only way into her account

    response = client.post("/acme/organizations/new/", {"name": "Side project", "slug": "side"})

    assert response.status_code == 302 and response["Location"] == "/side/"
    assert Membership.objects.get(org__slug="side", role=Role.OWNER).user == nia


# --- 3. login CSRF at the start -----------------------------------------------------


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_start_from_another_site_waits_for_a_click(acme, contractor, acme_idp_signs_in_uma, site):
    client = Client()

    response = client.get(START, HTTP_SEC_FETCH_SITE=site)

    body = response.content.decode()
    assert response.status_code == 200, body[:2000]
    assert 'http-equiv="refresh"' not in body
    assert 'href="/account/sso/acme/start/?next=%2Facme%2F" data-testid="sso-hand-off"' in body
    assert acme_idp_signs_in_uma.authorize_requests == []
    # The click is a navigation from this site: on to the IdP, and in.
    callback = idp_answer(client, html.unescape("/account/sso/acme/start/?next=%2Facme%2F"), acme_idp_signs_in_uma)
    assert client.get(callback)["Location"] == "/acme/"
    assert held_orgs(client) == {"acme": sessions.VIA_SSO}


@pytest.mark.parametrize("site", ["same-origin", "none", None])
def test_a_start_from_this_site_or_typed_goes_straight_to_the_idp(acme, oidc_idp, site):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    headers = {"HTTP_SEC_FETCH_SITE": site} if site else {}

    response = Client().get(START, **headers)

    assert response.status_code == 302 and response["Location"].startswith(f"{oidc_idp.issuer}/authorize?")


# --- 4. switched off during a round trip ------------------------------------------


def test_an_answer_after_sso_was_switched_off_signs_no_one_in(acme, oidc_idp):
    org_sso = oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-1", "ola@acme.test")
    client = Client()
    callback = idp_answer(client, START, oidc_idp)
    org_sso.enabled = False  # an owner switches single sign-on off meanwhile
    org_sso.save()
    before = snapshot()

    response = client.get(callback)

    assert_error_page(response, "Single sign-on for Acme Inc. was switched off", status=403)
    assert snapshot() == before
    assert held_orgs(client) == {} and account_identity(client) is None


def test_a_test_connection_still_works_while_sso_is_off(acme, owner, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], enabled=False)
    oidc_idp.sign_in_as("idp-owner", owner.email)
    client = Client()
    sign_in(client, owner, "acme")

    response = oidc_round_trip(client, "/acme/settings/sso/test/", oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/acme/settings/sso/test/report/"
    assert OrgSSO.objects.get(org=acme).tested_at is not None
