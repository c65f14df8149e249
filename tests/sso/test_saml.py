"""Signing in to an org through its SAML identity provider (docs/sso.md).

Every round trip is real: the test client starts at ``/account/sso/<slug>/start/``,
a pysaml2 IdP on loopback answers over HTTP, and its signed answer is posted
to allauth's ACS as the IdP's page would. Bad answers are made by the IdP
itself (``Fault``), never by mocking the protocol.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import SESSION_KEY
from django.test import Client

from orgs.models import Membership, Role, User
from orgs.sessions import ORG_SESSIONS_KEY, VIA_SSO
from orgs.sso.models import OrgSSO, Protocol
from tests.factories import MembershipFactory, UserFactory
from tests.sso.fixtures_saml import (
    answer_from_idp,
    ask_idp,
    post_answer,
    saml_round_trip,
    saml_sso,
    sp_urls,
)
from tests.sso.idps.saml import Fault, SamlUser, key_pair
from tests.sso.outcomes import assert_error_page, snapshot

ACME_START = "/account/sso/acme/start/?next=/acme/"
GLOBEX_START = "/account/sso/globex/start/?next=/globex/"
ANN = SamlUser(name_id="okta-00ann", email="ann@acme.test", name="Ann Example", groups=["incident-admins"])


@pytest.fixture
def acme_saml(acme, saml_idp):
    """Acme signs in through ``saml_idp``, claims acme.test, maps incident-admins to admin."""
    saml_idp.user = ANN
    return saml_sso(acme, saml_idp, domains=("acme.test",), default_role=Role.RESPONDER,
                    group_roles={"incident-admins": Role.ADMIN})


@pytest.fixture
def globex_saml(globex, outsider, second_saml_idp):
    """Globex (owned by outsider@globex.test) signs in through its own IdP and claims globex.test."""
    second_saml_idp.user = SamlUser(name_id="globex-outsider", email=outsider.email)
    return saml_sso(globex, second_saml_idp, domains=("globex.test",))




def assert_signed_in_nowhere(client):
    assert SESSION_KEY not in client.session
    assert not client.session.get(ORG_SESSIONS_KEY)




def sp_key_pair() -> tuple[str, str]:
    """Our (the SP's) key and certificate, as an owner would paste them."""
    with tempfile.TemporaryDirectory() as directory:
        key_file, cert_file = key_pair(Path(directory), "sp", "incidentio SP")
        return Path(key_file).read_text(), Path(cert_file).read_text()


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


# --- signing in ------------------------------------------------------------------


def test_first_sign_in_creates_the_person_and_their_membership_in_a_claimed_domain(acme_saml, saml_client, saml_idp):
    client = saml_client()

    response = saml_round_trip(client, ACME_START, saml_idp)

    assert response.status_code == 302
    assert response["Location"] == "/acme/"
    ann = User.objects.get(email="ann@acme.test")
    assert ann.name == "Ann Example"
    assert not ann.has_usable_password()
    assert Membership.objects.get(org=acme_saml.org, user=ann).role == Role.ADMIN  # incident-admins → admin
    link = SocialAccount.objects.get(user=ann)
    assert (link.provider, link.uid) == (str(acme_saml.public_id), "okta-00ann")
    assert client.session[ORG_SESSIONS_KEY] == {"acme": {"uid": ann.pk, "hash": ann.get_session_auth_hash(),
                                                        "via": VIA_SSO}}
    home = client.get("/acme/")
    assert home.status_code == 200
    assert home.wsgi_request.user == ann


def test_groups_decide_the_role_at_every_sign_in(acme_saml, saml_client, saml_idp):
    saml_round_trip(saml_client(), ACME_START, saml_idp)
    ann = User.objects.get(email="ann@acme.test")
    assert Membership.objects.get(org=acme_saml.org, user=ann).role == Role.ADMIN

    # Taken out of incident-admins at the IdP: the next sign-in gives the default role.
    saml_idp.user = SamlUser(name_id=ANN.name_id, email=ANN.email, name=ANN.name, groups=["everyone"])
    response = saml_round_trip(saml_client(), ACME_START, saml_idp)

    assert response["Location"] == "/acme/"
    assert Membership.objects.get(org=acme_saml.org, user=ann).role == Role.RESPONDER


def test_signing_in_binds_only_the_org_whose_idp_answered(acme_saml, globex, saml_client, saml_idp):
    # Ann is also in Globex (with a password): SSO into Acme does not sign her into Globex.
    ann = UserFactory(email="ann@acme.test")
    MembershipFactory(org=globex, user=ann, role=Role.OWNER)
    client = saml_client()

    saml_round_trip(client, ACME_START, saml_idp)

    assert list(client.session[ORG_SESSIONS_KEY]) == ["acme"]
    assert client.get("/globex/")["Location"].startswith("/accounts/login/")


def test_one_browser_holds_two_orgs_signed_in_through_two_idps_as_two_people(
        acme_saml, globex_saml, outsider, saml_client, saml_idp, second_saml_idp):
    client = saml_client()
    saml_round_trip(client, ACME_START, saml_idp)
    ann = User.objects.get(email="ann@acme.test")

    response = saml_round_trip(client, GLOBEX_START, second_saml_idp)

    assert response["Location"] == "/globex/"
    held = client.session[ORG_SESSIONS_KEY]
    assert {slug: entry["uid"] for slug, entry in held.items()} == {"acme": ann.pk, "globex": outsider.pk}
    assert client.get("/acme/").wsgi_request.user == ann
    assert client.get("/globex/").wsgi_request.user == outsider


def test_an_org_with_its_own_sp_key_signs_its_requests_and_signs_in(acme, saml_idp, saml_client, caplog):
    caplog.set_level(logging.DEBUG)
    key, cert = sp_key_pair()
    saml_sso(acme, saml_idp, domains=("acme.test",), saml_sp_private_key=key, saml_sp_x509cert=cert)
    saml_idp.user = ANN
    client = saml_client()

    to_idp = client.get(ACME_START)["Location"]
    assert "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256" in to_idp
    assert "&Signature=" in to_idp
    response = post_answer(client, ask_idp(to_idp))

    assert response["Location"] == "/acme/"
    assert pem_body(key)[:40] not in caplog.text  # the key is never logged


def test_an_invited_member_outside_the_claimed_domains_signs_in(acme_saml, saml_client, saml_idp):
    contractor = UserFactory(email="carla@contractors.test")
    MembershipFactory(org=acme_saml.org, user=contractor, role=Role.VIEWER)
    saml_idp.user = SamlUser(name_id="okta-carla", email="carla@contractors.test", groups=[])
    client = saml_client()

    response = saml_round_trip(client, ACME_START, saml_idp)

    assert response["Location"] == "/acme/"
    assert client.session[ORG_SESSIONS_KEY]["acme"]["uid"] == contractor.pk


def test_a_stranger_outside_the_claimed_domains_is_refused(acme_saml, saml_client, saml_idp):
    saml_idp.user = SamlUser(name_id="okta-eve", email="eve@elsewhere.test", groups=["incident-admins"])
    before = snapshot()
    client = saml_client()

    response = saml_round_trip(client, ACME_START, saml_idp)

    assert_error_page(response, "eve@elsewhere.test is not a member of Acme Inc., and elsewhere.test is not a "
                                "domain Acme Inc. claims.", status=403)
    assert snapshot() == before
    assert_signed_in_nowhere(client)


# --- answers that must be refused ------------------------------------------------


@pytest.mark.parametrize(("fault", "sentence"), [
    (Fault.TAMPERED, "The identity provider's signature does not match its answer: the answer was changed on the "
                     "way, or signed with a key other than the one in the identity provider's metadata."),
    (Fault.WRONG_KEY, "The identity provider's signature does not match its answer"),
    (Fault.WRONG_AUDIENCE, "The identity provider's answer was made for another service, not for this "
                           "organization's sign-in (its SP entity ID)."),
    (Fault.EXPIRED, "The identity provider's answer has expired. Sign in again"),
    (Fault.UNSIGNED, "The identity provider did not sign its answer, and this organization accepts signed "
                     "answers only."),
])
def test_a_bad_answer_gets_the_error_page_and_changes_nothing(acme_saml, saml_client, saml_idp, fault, sentence):
    saml_idp.fault = fault
    before = snapshot()
    client = saml_client()

    response = saml_round_trip(client, ACME_START, saml_idp)

    assert_error_page(response, sentence, status=401)
    assert snapshot() == before
    assert_signed_in_nowhere(client)
    assert 'href="/account/sso/acme/start/?next=%2Facme%2F"' in response.content.decode()  # try again


def test_an_answer_is_accepted_once(acme_saml, saml_client, saml_idp):
    client = saml_client()
    answer = answer_from_idp(client, ACME_START, saml_idp)
    assert post_answer(client, answer)["Location"] == "/acme/"
    before = snapshot()

    # Captured on the way and posted again: into a browser waiting for a sign-in of its own…
    thief = saml_client()
    thief.get(ACME_START)
    replayed = post_answer(thief, answer)
    assert_error_page(replayed, "This answer from the identity provider does not belong to a sign-in this browser "
                                "started: it was already used", status=403)
    assert_signed_in_nowhere(thief)
    # …and into the browser it was for.
    assert_error_page(post_answer(client, answer), "it was already used", status=403)
    assert snapshot() == before


def test_an_answer_the_idp_sent_unasked_is_refused(acme_saml, saml_client, saml_idp):
    urls = sp_urls(acme_saml)
    answer = saml_idp.unsolicited_answer(acs_url=urls["acs"], audience=urls["entity_id"], relay_state="/acme/")
    before = snapshot()
    client = saml_client()

    response = post_answer(client, answer)

    assert_error_page(response, "the sign-in was started at the identity provider, which is not accepted. "
                                "Start again from this site's sign-in.", status=401)
    assert snapshot() == before
    assert_signed_in_nowhere(client)


# --- tenant isolation ----------------------------------------------------------------


def test_an_answer_from_one_orgs_idp_posted_to_another_orgs_acs_is_refused(acme_saml, globex_saml, saml_client,
                                                                            saml_idp):
    # Acme's IdP vouches for Globex's owner, for a sign-in to Acme…
    saml_idp.user = SamlUser(name_id="okta-mallory", email="outsider@globex.test")
    client = saml_client()
    answer = answer_from_idp(client, ACME_START, saml_idp)
    client.get(GLOBEX_START)  # …while this browser also waits for a Globex sign-in.
    before = snapshot()

    response = post_answer(client, answer, acs_url=sp_urls(globex_saml)["acs"])

    assert_error_page(response, "The identity provider's answer was addressed to another sign-in address than this "
                                "organization's (its ACS URL).", status=401)
    assert snapshot() == before
    assert_signed_in_nowhere(client)


def test_one_orgs_idp_answering_another_orgs_request_signs_no_one_in(acme_saml, globex_saml, saml_client,
                                                                      saml_idp):
    # Globex's sign-in is started, and Acme's IdP (not Globex's) answers its request, for
    # Globex's owner: addressed to Globex's ACS, for Globex's audience, in a domain Globex claims.
    client = saml_client()
    start = client.get(GLOBEX_START)
    request_query = urlsplit(start["Location"]).query
    saml_idp.user = SamlUser(name_id="okta-mallory", email="outsider@globex.test", groups=["incident-admins"])
    saml_idp.fault = Fault.ANSWERS_ANY_REQUEST
    answer = ask_idp(f"{saml_idp.sso_url}?{request_query}")
    assert answer.acs_url == sp_urls(globex_saml)["acs"]
    before = snapshot()

    response = post_answer(client, answer)

    assert_error_page(response, "The answer comes from another identity provider than the one this organization "
                                "trusts.", status=401)
    assert snapshot() == before
    assert_signed_in_nowhere(client)


# --- the service provider's metadata ------------------------------------------------


def test_the_sp_metadata_of_a_configured_org_is_served(acme_saml, saml_client):
    urls = sp_urls(acme_saml)

    response = saml_client().get(urls["metadata"].removeprefix("http://127.0.0.1"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    metadata = response.content.decode()
    assert f'entityID="{urls["entity_id"]}"' in metadata
    assert f'Location="{urls["acs"]}"' in metadata


def test_the_sp_metadata_offers_no_single_logout_service(acme_saml, saml_client):
    # Single logout is not offered (its address answers 404): an IdP that imported
    # it would send people there when they sign out at the IdP.
    metadata = saml_client().get(f"/accounts/saml/{acme_saml.public_id}/metadata/").content.decode()

    assert "AssertionConsumerService" in metadata
    assert "SingleLogoutService" not in metadata
    assert saml_client().get(f"/accounts/saml/{acme_saml.public_id}/sls/").status_code == 404


def test_an_idp_tile_pointing_at_allauths_sign_in_start_signs_in_through_ours(acme_saml, saml_client, saml_idp):
    # An IdP's "initiate login URI" may name allauth's start; it leads to ours,
    # which binds the round trip to this browser, so the answer signs Ann in.
    client = saml_client()
    start = client.get(f"/accounts/saml/{acme_saml.public_id}/login/?next=/acme/incidents/")
    assert start.status_code == 302
    assert start["Location"] == "/account/sso/acme/start/?next=%2Facme%2Fincidents%2F"

    done = saml_round_trip(client, start["Location"], saml_idp)

    assert done.status_code == 302 and done["Location"] == "/acme/incidents/"
    assert client.get("/acme/").status_code == 200


def test_allauths_sign_in_start_for_no_saml_org_is_not_found(acme, globex, saml_client):
    oidc = OrgSSO.objects.create(org=globex, protocol=Protocol.OIDC, oidc_issuer="https://idp.example.com",
                                 oidc_client_id="incidentio", oidc_client_secret="s3cret", enabled=True)
    for key in (oidc.public_id, "7b0f3f7e-4a5c-4d8e-9d61-2f1f4f1d6a11", "acme"):
        assert saml_client().get(f"/accounts/saml/{key}/login/").status_code == 404


def test_the_sp_metadata_shows_our_certificate_and_never_our_key(acme, saml_idp, saml_client):
    key, cert = sp_key_pair()
    org_sso = saml_sso(acme, saml_idp, saml_sp_private_key=key, saml_sp_x509cert=cert)

    metadata = saml_client().get(f"/accounts/saml/{org_sso.public_id}/metadata/").content.decode()

    assert pem_body(cert) in metadata.replace("\n", "")
    assert "PRIVATE KEY" not in metadata
    assert pem_body(key)[:40] not in metadata


@pytest.mark.parametrize("public_id", ["7b0f3f7e-4a5c-4d8e-9d61-2f1f4f1d6a11", "acme", "oidc-org"])
def test_the_sp_metadata_of_no_saml_org_is_not_found(acme_saml, globex, saml_client, public_id):
    if public_id == "oidc-org":
        oidc = OrgSSO.objects.create(org=globex, protocol=Protocol.OIDC, oidc_issuer="https://idp.example.com",
                                     oidc_client_id="incidentio", oidc_client_secret="s3cret", enabled=True)
        public_id = str(oidc.public_id)

    response = saml_client().get(f"/accounts/saml/{public_id}/metadata/")

    assert response.status_code == 404


def test_a_request_without_a_host_header_on_a_one_label_host_still_starts_saml(acme_saml):
    """python3-saml reads the Host header itself and refuses one-label hosts
    (a docker-compose service name): neither is a 500."""
    client = Client()  # no HTTP_HOST; Django's default server name is "testserver"

    response = client.get("/account/sso/acme/start/?next=/acme/")

    assert response.status_code == 302 and response["Location"].startswith(acme_saml.saml_idp_sso_url)
