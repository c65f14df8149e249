"""Signing in through an org's OpenID Connect IdP, end to end with Django's
test client and a real IdP on loopback (tests/sso/idps/oidc.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from orgs import sessions
from orgs.models import Membership, Role, User
from orgs.sso.models import NO_ACCESS
from tests.conftest import sign_in
from tests.sso.fixtures_oidc import idp_answer, oidc_round_trip, oidc_sso_for
from tests.sso.outcomes import assert_error_page, held, snapshot

pytestmark = pytest.mark.django_db

START = "/account/sso/acme/start/?next=/acme/"








# --- signing in ---------------------------------------------------------------


def test_first_sign_in_in_a_claimed_domain_creates_the_person_and_membership(acme, oidc_idp):
    org_sso = oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=Role.RESPONDER)
    oidc_idp.sign_in_as("idp-0001", "Ada@Acme.test", name="Ada Lovelace")
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/acme/"
    ada = User.objects.get(email="ada@acme.test")
    assert ada.name == "Ada Lovelace"
    assert Membership.objects.get(org=acme, user=ada).role == Role.RESPONDER
    assert SocialAccount.objects.get(provider=str(org_sso.public_id)).uid == "idp-0001"
    assert held(client) == {"acme": ("ada@acme.test", sessions.VIA_SSO)}
    assert client.get("/acme/").status_code == 200


def test_every_authorization_request_carries_a_fresh_nonce_and_pkce(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-0001", "ada@acme.test")
    for _ in range(2):
        assert oidc_round_trip(Client(), START, oidc_idp).status_code == 302

    first, second = oidc_idp.authorize_requests
    assert first["code_challenge_method"] == second["code_challenge_method"] == "S256"
    assert first["nonce"] and second["nonce"] and first["nonce"] != second["nonce"]
    assert first["code_challenge"] != second["code_challenge"]
    assert oidc_idp.token_auth_methods == ["client_secret_post", "client_secret_post"]


def test_client_secret_basic_when_that_is_all_the_idp_supports(globex, other_oidc_idp):
    oidc_sso_for(globex, other_oidc_idp, domains=["globex.test"])
    other_oidc_idp.sign_in_as("g-1", "gina@globex.test")

    response = oidc_round_trip(Client(), "/account/sso/globex/start/?next=/globex/", other_oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/globex/"
    assert other_oidc_idp.token_auth_methods == ["client_secret_basic"]


def test_group_roles_apply_at_every_sign_in(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=Role.VIEWER,
                 group_roles={"incident-admins": Role.ADMIN, "responders": Role.RESPONDER})
    oidc_idp.sign_in_as("idp-7", "bo@acme.test", groups=["responders", "incident-admins", "unrelated"])
    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"
    assert Membership.objects.get(org=acme, user__email="bo@acme.test").role == Role.ADMIN

    # Moved out of the admins at the IdP: the next sign-in says so.
    oidc_idp.sign_in_as("idp-7", "bo@acme.test", groups=["responders"])
    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"
    assert Membership.objects.get(org=acme, user__email="bo@acme.test").role == Role.RESPONDER

    oidc_idp.sign_in_as("idp-7", "bo@acme.test", groups=[])
    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"
    assert Membership.objects.get(org=acme, user__email="bo@acme.test").role == Role.VIEWER


def test_removed_from_every_mapped_group_with_no_default_access_is_refused_and_loses_the_membership(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"], default_role=NO_ACCESS,
                 group_roles={"incident-responders": Role.RESPONDER})
    oidc_idp.sign_in_as("idp-9", "cy@acme.test", groups=["incident-responders"])
    assert oidc_round_trip(Client(), START, oidc_idp)["Location"] == "/acme/"
    assert Membership.objects.filter(org=acme, user__email="cy@acme.test", role=Role.RESPONDER).exists()

    oidc_idp.sign_in_as("idp-9", "cy@acme.test", groups=["marketing"])
    client = Client()
    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, "cy@acme.test is in none of the groups that give access to Acme Inc.", status=403)
    assert not Membership.objects.filter(org=acme, user__email="cy@acme.test").exists()
    assert held(client) == {}


def test_an_existing_member_outside_the_claimed_domains_signs_in(acme, oidc_idp):
    from tests.factories import MembershipFactory, UserFactory

    contractor = MembershipFactory(org=acme, role=Role.VIEWER, user=UserFactory(email="dee@contractors.test")).user
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-contractor", "dee@contractors.test")
    client = Client()

    response = oidc_round_trip(client, "/account/sso/acme/start/?next=/acme/incidents/", oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/acme/incidents/"
    assert held(client) == {"acme": ("dee@contractors.test", sessions.VIA_SSO)}
    assert Membership.objects.get(org=acme, user=contractor).role == Role.VIEWER  # no mapping: the product's role


def test_a_non_member_outside_the_claimed_domains_is_refused(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-stranger", "eve@elsewhere.test")
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, "eve@elsewhere.test is not a member of Acme Inc.", status=403)
    assert snapshot() == before
    assert held(client) == {}


def test_only_that_orgs_session_is_bound_and_other_orgs_stay(acme, outsider, globex, oidc_idp):
    client = Client()
    sign_in(client, outsider, "globex")
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-1", "fay@acme.test")

    response = oidc_round_trip(client, START, oidc_idp)

    assert response["Location"] == "/acme/"
    assert held(client) == {"globex": ("outsider@globex.test", sessions.VIA_PASSWORD),
                            "acme": ("fay@acme.test", sessions.VIA_SSO)}
    assert client.get("/globex/").status_code == 200
    assert client.get("/acme/").status_code == 200
    assert not Membership.objects.filter(org=globex, user__email="fay@acme.test").exists()


# --- bad answers: a clear page, nothing changed -------------------------------


@pytest.mark.parametrize(
    ("switch", "value", "sentence"),
    [
        ("sign_with_unknown_key", True, "ID token signature does not match its published keys"),
        ("unsigned", True, "ID token is signed with 'none', which is not accepted"),
        ("wrong_nonce", True, "ID token does not carry the nonce of this sign-in"),
        ("expired", True, "ID token has expired"),
        ("wrong_audience", True, "ID token was issued for another application"),
        ("userinfo_sub", "someone-else", "userinfo describes another person than its ID token"),
    ],
)
def test_an_answer_that_does_not_verify_signs_no_one_in(acme, owner, oidc_idp, switch, value, sentence):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-owner", "owner@acme.test")  # even an existing owner's address
    setattr(oidc_idp, switch, value)
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, sentence)
    assert snapshot() == before
    assert held(client) == {}
    assert "_auth_user_id" not in client.session


def test_saying_no_at_the_idp_is_a_clear_page(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-1", "max@acme.test")
    oidc_idp.deny = True
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, START, oidc_idp)

    assert_error_page(response, "The sign-in was cancelled at the identity provider.")
    assert snapshot() == before
    assert held(client) == {}


def test_an_idp_down_at_the_start_is_a_clear_page(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.stop()
    client = Client()

    response = client.get(START)

    assert_error_page(response, "The identity provider could not be reached (ConnectionError)", status=502)
    assert held(client) == {}


def test_an_idp_down_at_the_callback_is_a_clear_page(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-1", "gus@acme.test")
    before = snapshot()
    client = Client()
    callback = idp_answer(client, START, oidc_idp)
    oidc_idp.stop()

    response = client.get(callback)

    assert_error_page(response, "The identity provider could not be reached (ConnectionError)")
    assert snapshot() == before
    assert held(client) == {}


def test_a_wrong_client_secret_is_a_clear_page(acme, oidc_idp):
    org_sso = oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    org_sso.oidc_client_secret = "not-the-secret"
    org_sso.save()
    oidc_idp.sign_in_as("idp-1", "hal@acme.test")
    before = snapshot()

    response = oidc_round_trip(Client(), START, oidc_idp)

    assert_error_page(response, "refused to exchange the sign-in code for tokens")
    assert "not-the-secret" not in response.content.decode()
    assert snapshot() == before


def test_an_answer_to_a_sign_in_started_in_another_browser_is_refused(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-1", "ivy@acme.test")
    before = snapshot()
    callback = idp_answer(Client(), START, oidc_idp)
    other_browser = Client()

    response = other_browser.get(callback)

    assert_error_page(response, "does not belong to a sign-in this browser started")
    assert snapshot() == before
    assert held(other_browser) == {}


# --- tenant isolation -----------------------------------------------------------


@pytest.fixture
def two_orgs(acme, globex, oidc_idp, other_oidc_idp):
    """acme signs in through ``oidc_idp``, globex through ``other_oidc_idp``,
    and globex claims the domain the person's address is in."""
    return oidc_sso_for(acme, oidc_idp, domains=["acme.test"]), oidc_sso_for(globex, other_oidc_idp,
                                                                            domains=["globex.test"])


def test_an_idp_signs_into_its_own_org_only_whatever_the_address_and_next_say(acme, globex, two_orgs, oidc_idp):
    from tests.factories import MembershipFactory, UserFactory

    # A member of both orgs, with an address in the domain globex claims.
    both = MembershipFactory(org=acme, role=Role.VIEWER, user=UserFactory(email="jo@globex.test")).user
    MembershipFactory(org=globex, role=Role.ADMIN, user=both)
    oidc_idp.sign_in_as("acme-idp-jo", "jo@globex.test")
    client = Client()

    response = oidc_round_trip(client, "/account/sso/acme/start/?next=/globex/", oidc_idp)

    assert response["Location"] == "/acme/"
    assert held(client) == {"acme": ("jo@globex.test", sessions.VIA_SSO)}
    assert client.get("/globex/").status_code != 200


def test_an_idp_cannot_create_anyone_in_the_org_that_claims_the_address(globex, two_orgs, oidc_idp):
    oidc_idp.sign_in_as("acme-idp-kim", "kim@globex.test")
    before = snapshot()
    client = Client()

    response = oidc_round_trip(client, "/account/sso/acme/start/?next=/globex/", oidc_idp)

    assert_error_page(response, "kim@globex.test is not a member of Acme Inc.", status=403)
    assert snapshot() == before
    assert held(client) == {}


def test_one_idps_answer_delivered_to_another_orgs_callback_is_refused(globex, two_orgs, oidc_idp):
    acme_sso, globex_sso = two_orgs
    oidc_idp.sign_in_as("acme-idp-lu", "lu@globex.test")
    before = snapshot()
    client = Client()
    callback = idp_answer(client, "/account/sso/acme/start/?next=/globex/", oidc_idp)

    # The same answer at globex's callback: no sign-in of globex's is pending for its state.
    response = client.get(callback.replace(str(acme_sso.public_id), str(globex_sso.public_id)))
    assert_error_page(response, "does not belong to a sign-in this browser started")

    # Nor with the state of a sign-in of globex's this browser did start: globex's
    # IdP never issued that code.
    globex_start = client.get("/account/sso/globex/start/?next=/globex/")
    globex_state = parse_qs(urlsplit(globex_start["Location"]).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get(f"/accounts/oidc/{globex_sso.public_id}/login/callback/",
                          {"code": code, "state": globex_state})
    assert_error_page(response, "refused to exchange the sign-in code for tokens")

    assert snapshot() == before
    assert held(client) == {}


def test_an_unknown_provider_in_the_callback_is_a_404(db):
    response = Client().get("/accounts/oidc/00000000-0000-0000-0000-000000000000/login/callback/?code=x&state=y")
    assert response.status_code == 404


def test_a_discovery_document_for_another_issuer_is_a_clear_page(acme, oidc_idp):
    org_sso = oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    # The same server under another name: its discovery document names 127.0.0.1.
    org_sso.oidc_issuer = oidc_idp.issuer.replace("127.0.0.1", "localhost")
    org_sso.save()

    response = Client().get(START)

    assert_error_page(response, f"discovery document is for the issuer {oidc_idp.issuer}, not "
                                f"{org_sso.oidc_issuer}: check the issuer URL", status=502)
    assert oidc_idp.authorize_requests == []


def test_allauths_own_login_url_starts_nothing(acme, oidc_idp):
    org_sso = oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    client = Client()

    assert client.get(f"/accounts/oidc/{org_sso.public_id}/login/").status_code == 404
    assert client.post(f"/accounts/oidc/{org_sso.public_id}/login/").status_code == 404
    assert oidc_idp.authorize_requests == []


def test_an_idp_never_gets_the_account_of_someone_with_other_orgs_or_a_password(acme, globex, outsider, oidc_idp):
    from tests.factories import MembershipFactory

    # globex's owner, invited to acme: acme's IdP (acme's admins) can assert their address.
    MembershipFactory(org=acme, role=Role.VIEWER, user=outsider)
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("acme-idp-says-so", outsider.email)
    client = Client()

    assert oidc_round_trip(client, START, oidc_idp)["Location"] == "/acme/"

    assert held(client) == {"acme": ("outsider@globex.test", sessions.VIA_SSO)}
    assert "_auth_user_id" not in client.session  # not the account identity
    # So no account-level page of theirs: no e-mail address to add, no password to reset through it.
    assert client.post("/accounts/email/", {"action_add": "", "email": "attacker@evil.test"}).status_code == 302
    assert not EmailAddress.objects.filter(email="attacker@evil.test").exists()
    assert client.get("/globex/")["Location"].startswith("/accounts/login/")


def test_a_person_only_this_idp_lets_in_becomes_the_account_identity(acme, oidc_idp):
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-new", "nia@acme.test")
    client = Client()

    assert oidc_round_trip(client, START, oidc_idp)["Location"] == "/acme/"

    assert client.session["_auth_user_id"] == str(User.objects.get(email="nia@acme.test").pk)
