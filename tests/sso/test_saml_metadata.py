"""Reading an identity provider's SAML metadata when an owner saves it (``orgs.sso.saml_metadata``).

Against the loopback IdP's real metadata, served over HTTP; every refusal is a
``MetadataError`` whose text the settings form shows as it is.
"""

from __future__ import annotations

import socket

import pytest
from lxml import etree

from orgs.sso import saml_metadata
from orgs.sso.saml_metadata import MetadataError

METADATA_NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}


def without(xml: str, xpath: str) -> str:
    """``xml`` with the elements ``xpath`` finds taken out."""
    root = etree.fromstring(xml.encode())
    found = root.xpath(xpath, namespaces=METADATA_NS)
    assert found, xpath
    for element in found:
        element.getparent().remove(element)
    return etree.tostring(root, encoding="unicode")


def test_the_idps_metadata_is_fetched_and_read(saml_idp):
    parsed = saml_metadata.parse(saml_metadata.fetch(saml_idp.metadata_url))

    assert parsed.entity_id == saml_idp.entity_id
    assert parsed.sso_url == saml_idp.sso_url
    assert parsed.x509cert.replace("\n", "") in saml_idp.certificate.replace("\n", "")


def test_malformed_xml_is_refused():
    with pytest.raises(MetadataError) as refused:
        saml_metadata.parse('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">')

    assert str(refused.value) == "This is not readable SAML metadata (XMLSyntaxError)."


def test_metadata_without_a_signing_certificate_is_refused(saml_idp):
    xml = without(saml_idp.metadata(), "//md:KeyDescriptor")

    with pytest.raises(MetadataError) as refused:
        saml_metadata.parse(xml)

    assert str(refused.value) == ("The metadata describes no identity provider this site can use: it has no "
                                  "signing certificate.")


def test_metadata_of_no_identity_provider_is_refused(saml_idp):
    xml = without(saml_idp.metadata(), "//md:IDPSSODescriptor")

    with pytest.raises(MetadataError) as refused:
        saml_metadata.parse(xml)

    assert str(refused.value) == ("The metadata describes no identity provider this site can use: it has no "
                                  "entity ID and no HTTP-Redirect SingleSignOnService and no signing certificate.")


def test_an_unreachable_metadata_url_is_refused():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/metadata"

    with pytest.raises(MetadataError) as refused:
        saml_metadata.fetch(url)

    assert str(refused.value) == (f"Could not read {url} (ConnectionError). Check the URL, and that this server can "
                                  "reach the identity provider.")


def test_a_metadata_url_that_answers_with_an_error_is_refused(saml_idp):
    url = f"{saml_idp.base_url}/no-such-metadata"

    with pytest.raises(MetadataError) as refused:
        saml_metadata.fetch(url)

    assert str(refused.value) == (f"Could not read {url} (HTTPError). Check the URL, and that this server can "
                                  "reach the identity provider.")
