"""Saving a SAML identity provider (docs/sso.md): from pasted metadata XML or
a metadata URL (a real HTTP server on loopback), refused with nothing saved
when the metadata is unusable; our optional signing key is never shown again."""

from __future__ import annotations

import pytest
from django.utils import timezone

from orgs.sso.models import OrgSSO, Protocol
from tests.form_errors import error_next_to
from tests.sso.settings_support import cert_body, idp_metadata, self_signed, serving

pytestmark = pytest.mark.django_db

ENTITY_ID = "https://idp.example.test/saml"
SSO_URL = "https://idp.example.test/saml/sso"


@pytest.fixture(scope="module")
def idp_cert():
    return self_signed("idp.example.test")[1]


@pytest.fixture(scope="module")
def sp_pair():
    return self_signed("incidentio-sp")


def save(client, **fields):
    return client.post("/acme/settings/sso/", {"action": "save_idp", "protocol": "saml", **fields}, follow=True)


def test_pasted_metadata_is_read_and_stored(acme, owner, signed_in, idp_cert):
    xml = idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert)

    response = save(signed_in(owner, acme), metadata_xml=xml)

    assert response.redirect_chain == [("/acme/settings/sso/", 302)]
    row = OrgSSO.objects.get(org=acme)
    assert (row.protocol, row.saml_idp_entity_id, row.saml_idp_sso_url, row.saml_metadata_url) == \
        (Protocol.SAML, ENTITY_ID, SSO_URL, "")
    assert cert_body(row.saml_idp_x509cert) == cert_body(idp_cert)
    assert (row.enabled, row.tested_at) == (False, None)
    page = response.content.decode()
    assert f"Saved IdP: <code>{ENTITY_ID}</code>" in page
    assert f'data-testid="sso-saml-metadata">http://127.0.0.1:8000/accounts/saml/{row.public_id}/metadata/' in page


def test_a_metadata_url_is_fetched_on_save(acme, owner, signed_in, idp_cert):
    routes = {"/metadata": (200, "application/samlmetadata+xml",
                            idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert))}
    with serving(routes) as base:
        save(signed_in(owner, acme), metadata_url=f"{base}/metadata")

    row = OrgSSO.objects.get(org=acme)
    assert (row.saml_metadata_url, row.saml_idp_entity_id) == (f"{base}/metadata", ENTITY_ID)


@pytest.mark.parametrize("case", ["not_xml", "no_cert", "both", "neither", "dead_url"])
def test_unusable_metadata_is_refused_and_nothing_changes(acme, owner, signed_in, idp_cert, case):
    xml = idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert)
    fields, field_id, expected = {
        "not_xml": ({"metadata_xml": "<html>sign in</html"}, "id_metadata_xml", "This is not readable SAML metadata"),
        "no_cert": ({"metadata_xml": idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=None)},
                    "id_metadata_xml", "it has no signing certificate."),
        "both": ({"metadata_xml": xml, "metadata_url": "https://idp.example.test/md"}, "id_metadata_url",
                 "one of the two"),
        "neither": ({}, "id_metadata_url", "one of the two"),
        "dead_url": ({"metadata_url": "http://127.0.0.1:9/metadata"}, "id_metadata_url",
                     "Could not read http://127.0.0.1:9/metadata"),
    }[case]

    response = save(signed_in(owner, acme), **fields)

    assert response.status_code == 400
    assert expected in error_next_to(response.content.decode(), field_id)
    assert not OrgSSO.objects.exists()


def test_the_sp_private_key_is_never_shown_and_a_blank_one_keeps_it(acme, owner, signed_in, idp_cert, sp_pair):
    key, cert = sp_pair
    client = signed_in(owner, acme)
    xml = idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert)

    first = save(client, metadata_xml=xml, sp_private_key=key, sp_x509cert=cert)
    again = save(client, metadata_xml=xml)  # key and certificate left blank: kept
    refused = save(client, metadata_xml="<nope/>", sp_private_key=key)  # refused: the typed key is not echoed

    assert again.redirect_chain == [("/acme/settings/sso/", 302)]
    key_body = cert_body(key)[:64]
    for response in (first, again, refused, client.get("/acme/settings/sso/")):
        assert key_body not in response.content.decode()
    row = OrgSSO.objects.get(org=acme)
    assert (row.saml_sp_private_key, row.saml_sp_x509cert) == (key.strip(), cert.strip())
    assert "Saved — enter a new value to replace it." in again.content.decode()


def test_removing_the_sp_key_stops_signing(acme, owner, signed_in, idp_cert, sp_pair):
    key, cert = sp_pair
    client = signed_in(owner, acme)
    xml = idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert)
    save(client, metadata_xml=xml, sp_private_key=key, sp_x509cert=cert)

    save(client, metadata_xml=xml, remove_sp_key="on")

    row = OrgSSO.objects.get(org=acme)
    assert (row.saml_sp_private_key, row.saml_sp_x509cert) == ("", "")


def test_a_key_and_a_certificate_that_do_not_belong_together_are_refused(acme, owner, signed_in, idp_cert, sp_pair):
    xml = idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert)

    response = save(signed_in(owner, acme), metadata_xml=xml, sp_private_key=sp_pair[0], sp_x509cert=idp_cert)

    assert response.status_code == 400
    assert error_next_to(response.content.decode(), "id_sp_x509cert") == \
        "The certificate is not the private key's: paste the pair that belongs together."
    assert not OrgSSO.objects.exists()


def test_switching_from_oidc_to_saml_forgets_the_client_secret_and_switches_off(acme, owner, signed_in, idp_cert):
    OrgSSO.objects.create(org=acme, protocol=Protocol.OIDC, oidc_issuer="https://idp.example.test",
                          oidc_client_id="app", oidc_client_secret="old-secret", enabled=True,
                          tested_at=timezone.now())

    save(signed_in(owner, acme), metadata_xml=idp_metadata(entity_id=ENTITY_ID, sso_url=SSO_URL, cert_pem=idp_cert))

    row = OrgSSO.objects.get(org=acme)
    assert (row.protocol, row.oidc_client_secret, row.oidc_issuer) == (Protocol.SAML, "", "")
    assert (row.enabled, row.tested_at) == (False, None)
