"""Review fixes (fixc): SAML single logout not offered, garbled SAML answers,
IdP links that outlive a change of IdP, and allauth's app lookups by a key
that cannot be ours. Real entry points: the test client, the loopback IdPs."""

from __future__ import annotations

import base64
import html

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from orgs.models import Role
from orgs.sessions import ORG_SESSIONS_KEY
from orgs.sso.models import OrgSSO
from tests.conftest import sign_in
from tests.factories import MembershipFactory, UserFactory
from tests.sso.fixtures_oidc import oidc_round_trip, oidc_sso_for
from tests.sso.fixtures_saml import SP_HOST, saml_sso, sp_urls
from tests.sso.outcomes import snapshot
from tests.sso.test_saml import ACME_START, ANN

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return html.unescape(response.content.decode())


# --- 1. No SAML single logout ------------------------------------------------------


def forged_logout_request(org_sso: OrgSSO, issuer: str) -> str:
    """An unsigned LogoutRequest naming ``issuer``, as the HTTP-Redirect binding carries it."""
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged1" Version="2.0" '
        f'IssueInstant="2026-01-01T00:00:00Z" Destination="http://{SP_HOST}/accounts/saml/{org_sso.public_id}/sls/">'
        f"<saml:Issuer>{issuer}</saml:Issuer><saml:NameID>{ANN.name_id}</saml:NameID></samlp:LogoutRequest>"
    )
    return OneLogin_Saml2_Utils.deflate_and_base64_encode(xml)


def test_a_forged_saml_logout_request_is_a_404_and_ends_no_session(acme, globex, outsider, saml_client, saml_idp):
    org_sso = saml_sso(acme, saml_idp)
    client = saml_client()
    sign_in(client, outsider, None)  # Globex by password: an org session and the account identity
    before = dict(client.session)
    assert before[ORG_SESSIONS_KEY]

    response = client.get(f"/accounts/saml/{org_sso.public_id}/sls/",
                          {"SAMLRequest": forged_logout_request(org_sso, saml_idp.entity_id)})

    assert response.status_code == 404
    assert dict(client.session) == before
    assert client.get("/globex/").status_code == 200


# --- 2. Garbled SAML answers -----------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


GARBLED = {
    "not base64": "%%% this is not base64 %%%",
    "not XML": b64("hello, I am not XML"),
    "mismatched tags": b64('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><a></b>'),
    "a DOCTYPE": b64('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>'
                     '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;</samlp:Response>'),
    "an empty answer": "",
}


@pytest.mark.parametrize("saml_response", GARBLED.values(), ids=GARBLED.keys())
def test_a_garbled_saml_answer_gets_the_error_page_and_changes_nothing(acme, saml_client, saml_idp, saml_response):
    org_sso = saml_sso(acme, saml_idp, domains=("acme.test",))
    client = saml_client()
    assert client.get(ACME_START).status_code == 302  # a sign-in this browser started
    before = snapshot()

    # Posted as the IdP's page would, following our redirects as a browser does.
    response = client.post(sp_urls(org_sso)["acs"].removeprefix(f"http://{SP_HOST}"),
                           {"SAMLResponse": saml_response}, follow=True)

    assert response.status_code == 400
    assert [t.name for t in response.templates][0] == "sso/error.html"
    assert "The identity provider's answer is not a SAML answer this site can read" in page_text(response)
    assert snapshot() == before
    assert not client.session.get(ORG_SESSIONS_KEY)
    assert "_auth_user_id" not in client.session


# --- 3. IdP links end with a change of IdP ----------------------------------------------


def save_oidc_idp(client: Client, idp, secret: str):
    response = client.post("/acme/settings/sso/", {"action": "save_idp", "protocol": "oidc", "issuer": idp.issuer,
                                                   "client_id": idp.client_id, "client_secret": secret})
    assert response.status_code == 302, page_text(response)[:3000]


@pytest.fixture
def contractor_linked(acme, owner, oidc_idp, signed_in):
    """Ada, an Acme member with another company's address, linked to ``oidc_idp``'s
    ``00u-ada`` by a first sign-in; and the owner's browser on the settings page."""
    owner_browser = signed_in(owner, acme)
    oidc_sso_for(acme, oidc_idp)
    ada = MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email="ada@contractors.test")).user
    oidc_idp.sign_in_as("00u-ada", ada.email)
    assert oidc_round_trip(Client(), ACME_START, oidc_idp)["Location"] == "/acme/"
    assert SocialAccount.objects.filter(user=ada).count() == 1
    return ada, owner_browser


def test_a_new_idp_s_user_with_the_old_idp_s_uid_is_not_the_old_idp_s_person(
        acme, contractor_linked, oidc_idp, other_oidc_idp):
    ada, owner_browser = contractor_linked
    save_oidc_idp(owner_browser, other_oidc_idp, secret=other_oidc_idp.client_secret)
    OrgSSO.objects.filter(org=acme).update(enabled=True)  # tested and switched on again
    assert not SocialAccount.objects.filter(user=ada).exists()

    # The new IdP's "00u-ada" is someone else: not Ada, and not a member.
    other_oidc_idp.sign_in_as("00u-ada", "mallory@elsewhere.test")
    browser = Client()
    response = oidc_round_trip(browser, ACME_START, other_oidc_idp)

    assert response.status_code == 403
    assert "mallory@elsewhere.test is not a member of Acme Inc." in page_text(response)
    assert not browser.session.get(ORG_SESSIONS_KEY)


def test_a_new_client_secret_for_the_same_idp_keeps_people_s_links(acme, contractor_linked, oidc_idp):
    ada, owner_browser = contractor_linked

    save_oidc_idp(owner_browser, oidc_idp, secret="a-rotated-secret")

    assert SocialAccount.objects.filter(user=ada).count() == 1


def test_a_new_saml_idp_ends_the_links_of_the_old_one(acme, owner, signed_in, saml_client, saml_idp,
                                                        second_saml_idp):
    from tests.sso.fixtures_saml import saml_round_trip

    owner_browser = signed_in(owner, acme)
    saml_sso(acme, saml_idp, domains=("acme.test",))
    saml_idp.user = ANN
    assert saml_round_trip(saml_client(), ACME_START, saml_idp)["Location"] == "/acme/"
    assert SocialAccount.objects.filter(user__email=ANN.email).count() == 1

    response = owner_browser.post("/acme/settings/sso/", {"action": "save_idp", "protocol": "saml",
                                                          "metadata_url": second_saml_idp.metadata_url})

    assert response.status_code == 302, page_text(response)[:3000]
    assert not SocialAccount.objects.filter(user__email=ANN.email).exists()


# --- 4. allauth's app lookups by a key that is not ours ----------------------------------


def test_a_saml_url_with_a_key_that_is_no_uuid_is_a_404_without_reading_every_org(
        acme, globex, saml_client, saml_idp, second_saml_idp):
    saml_sso(acme, saml_idp)
    saml_sso(globex, second_saml_idp)
    client = saml_client()

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/accounts/saml/x/metadata/")

    assert response.status_code == 404
    assert not [query for query in queries.captured_queries if "sso_orgsso" in query["sql"].lower()]


def test_an_org_s_saml_metadata_is_still_found_by_its_key(acme, saml_client, saml_idp):
    org_sso = saml_sso(acme, saml_idp)

    response = saml_client().get(f"/accounts/saml/{org_sso.public_id}/metadata/")

    assert response.status_code == 200
    assert sp_urls(org_sso)["entity_id"] in response.content.decode()
