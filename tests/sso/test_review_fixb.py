"""Who gets in through an org's IdP, after the security review (docs/sso.md,
"Who gets in"): a password account registered ahead of its owner, an address
the IdP says is unverified, a removed member's IdP link, "No access" and the
groups claim. End to end with Django's test client and the loopback OpenID
Connect IdP (tests/sso/idps/oidc.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from orgs.models import Membership, Role, User
from orgs.sso.models import NO_ACCESS
from tests.factories import MembershipFactory, UserFactory
from tests.form_errors import error_next_to
from tests.sso.fixtures_oidc import oidc_round_trip, oidc_sso_for
from tests.sso.idps.oidc import IdpUser
from tests.sso.outcomes import assert_error_page, held, snapshot

pytestmark = pytest.mark.django_db

START = "/account/sso/acme/start/?next=/acme/"
SQUATTERS_PASSWORD = "squatters-long-passphrase-1"

#: In ``OddIdpUser.overrides``: leave the claim out of the answer altogether.
LEFT_OUT = object()


@dataclass
class OddIdpUser(IdpUser):
    """The person at the IdP, with some claims as an odd or careless IdP sends them."""

    overrides: dict = field(default_factory=dict)

    def claims(self) -> dict:
        claims = super().claims()
        for name, value in self.overrides.items():
            if value is LEFT_OUT:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims


def answers_as(idp, sub: str, email: str, *, groups=(), **overrides) -> None:
    """``idp`` consents as this person; ``groups`` may be anything (or ``LEFT_OUT``), as ``overrides`` claims."""
    if not isinstance(groups, list | tuple):
        overrides["groups"], groups = groups, ()
    idp.user = OddIdpUser(sub=sub, email=email, groups=list(groups), overrides=overrides)


def sign_up(client: Client, email: str) -> None:
    """allauth's real sign-up with a password; the address is never confirmed."""
    response = client.post("/accounts/signup/", {"email": email, "password1": SQUATTERS_PASSWORD,
                                                 "password2": SQUATTERS_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]


def password_sign_in(email: str, password: str) -> Client:
    client = Client()
    client.post("/accounts/login/", {"login": email, "password": password, "next": "/acme/"})
    return client


# --- 1. a password account registered ahead of its owner ----------------------


def test_an_account_registered_ahead_of_its_owner_loses_its_password_at_the_owners_first_sso(acme, oidc_idp):
    sign_up(Client(), "victim@acme.test")  # someone else, before Acme claimed acme.test
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-victim", "victim@acme.test")
    victim = Client()

    assert oidc_round_trip(victim, START, oidc_idp)["Location"] == "/acme/"

    # The address is now verified, but the password set by whoever signed up opens nothing.
    squatter = password_sign_in("victim@acme.test", SQUATTERS_PASSWORD)
    assert "_auth_user_id" not in squatter.session
    assert held(squatter) == {}
    assert squatter.get("/acme/").status_code == 302
    # The IdP's person holds the account now (no password, no other org).
    assert victim.get("/accounts/email/").status_code == 200
    assert not User.objects.get(email="victim@acme.test").has_usable_password()


def test_the_squatters_session_and_other_addresses_end_at_the_owners_first_sso(acme, oidc_idp, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"  # a deployment where sign-up signs in at once
    squatter = Client()
    sign_up(squatter, "victim@acme.test")
    account = User.objects.get(email="victim@acme.test")
    EmailAddress.objects.create(user=account, email="squatter@evil.test", verified=True)  # their own, confirmed
    assert squatter.get("/accounts/email/").status_code == 200
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-victim", "victim@acme.test")

    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"

    assert squatter.get("/accounts/email/").status_code == 302
    assert "_auth_user_id" not in squatter.session
    # No way back in through a password reset to the squatter's own address.
    assert sorted(EmailAddress.objects.filter(user=account).values_list("email", flat=True)) == ["victim@acme.test"]
    mail.outbox.clear()
    Client().post("/accounts/password/reset/", {"email": "squatter@evil.test"})
    assert not any(re.search(r"/accounts/password/reset/key/", message.body) for message in mail.outbox)


def test_an_account_whose_address_was_verified_keeps_its_password(acme, responder, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-responder", "responder@acme.test")

    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"

    responder.refresh_from_db()
    assert responder.has_usable_password()


# --- 2. an address the IdP says is not verified -------------------------------


@pytest.mark.parametrize("unverified", [False, "false"])
def test_an_address_the_idp_says_is_unverified_matches_no_one_and_creates_no_one(acme, responder, oidc_idp,
                                                                                unverified):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    before = snapshot()
    for sub, email in [("idp-mallory", "responder@acme.test"), ("idp-new", "newcomer@acme.test")]:
        answers_as(oidc_idp, sub, email, email_verified=unverified)
        client = Client()

        response = oidc_round_trip(client, START, oidc_idp)

        assert_error_page(response, f"The identity provider says {email} is not verified", status=403)
        assert snapshot() == before
        assert held(client) == {}

    # Many IdPs send no email_verified at all: the address is trusted, as the org's IdP vouches for it.
    answers_as(oidc_idp, "idp-responder", "responder@acme.test", email_verified=LEFT_OUT)
    client = Client()
    assert oidc_round_trip(client, START, oidc_idp)["Location"] == "/acme/"
    assert held(client) == {"acme": ("responder@acme.test", "sso")}


# --- 3. a removed member's IdP link -------------------------------------------


def test_a_removed_contractor_does_not_sign_back_in_through_their_idp_link(acme, owner, oidc_idp, signed_in):
    contractor = MembershipFactory(org=acme, role=Role.VIEWER, user=UserFactory(email="dee@contractors.test"))
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-contractor", "dee@contractors.test")
    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"  # links the IdP's uid
    signed_in(owner, acme).post(f"/acme/settings/members/{contractor.public_id}/remove/")
    assert not Membership.objects.filter(org=acme, user__email="dee@contractors.test").exists()
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, "dee@contractors.test is not a member of Acme Inc.", status=403)
    assert snapshot() == before
    assert held(client) == {}


# --- 4. "No access" and a missing groups claim --------------------------------


def post_settings(client, action, **fields):
    return client.post("/acme/settings/sso/", {"action": action, **fields}, follow=True)


def test_no_access_cannot_be_the_default_while_no_group_is_mapped(acme, owner, oidc_idp, signed_in):
    org_sso = oidc_sso_for(acme, oidc_idp, default_role=Role.RESPONDER)
    client = signed_in(owner, acme)

    refused = post_settings(client, "save_roles", default_role=NO_ACCESS, groups_claim="groups")

    assert refused.status_code == 400
    assert "no group is mapped" in error_next_to(refused.content.decode(), "id_default_role")
    org_sso.refresh_from_db()
    assert org_sso.default_role == Role.RESPONDER

    # With a group mapped it may be; then that last group cannot be unmapped.
    post_settings(client, "map_group", group="incident-responders", role="responder")
    post_settings(client, "save_roles", default_role=NO_ACCESS, groups_claim="groups")
    unmapped = post_settings(client, "unmap_group", group="incident-responders")

    assert "incident-responders is the only mapped group" in unmapped.content.decode()
    org_sso.refresh_from_db()
    assert (org_sso.default_role, org_sso.group_roles) == (NO_ACCESS, {"incident-responders": "responder"})


def test_an_answer_without_the_groups_claim_is_refused_and_ends_no_membership(acme, responder, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=NO_ACCESS,
                 group_roles={"incident-responders": Role.RESPONDER})
    answers_as(oidc_idp, "idp-responder", "responder@acme.test", groups=LEFT_OUT)
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, "The identity provider sent no list of groups in “groups”", status=403)
    assert snapshot() == before
    assert held(client) == {}


def test_no_access_saved_before_with_no_group_mapped_ends_no_membership(acme, responder, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=NO_ACCESS)  # as the settings page allowed
    oidc_idp.sign_in_as("idp-responder", "responder@acme.test", groups=["anything"])
    before = snapshot()

    response = oidc_round_trip(Client(), START, oidc_idp)

    assert_error_page(response, "responder@acme.test is in none of the groups that give access", status=403)
    assert snapshot() == before


# --- 5. a groups claim that is not a list -------------------------------------


@pytest.mark.parametrize("odd_groups", [5, True, {"incident-admins": True}])
def test_a_groups_claim_that_is_not_a_list_means_no_groups(acme, oidc_idp, odd_groups):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=Role.VIEWER,
                 group_roles={"incident-admins": Role.ADMIN})
    answers_as(oidc_idp, "idp-ann", "ann@acme.test", groups=odd_groups)
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/acme/"
    assert Membership.objects.get(org=acme, user__email="ann@acme.test").role == Role.VIEWER
