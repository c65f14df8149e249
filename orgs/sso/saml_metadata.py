"""An identity provider's SAML metadata, read once when an owner saves it.

Parsed with python3-saml's own parser (the library allauth's SAML provider
runs on); fetched with the SSO adapter's ``requests`` session, under allauth's
timeout and refusing private addresses, so a slow, dead or internal metadata
URL is a form error, not a hung request or a call into the internal network.
"""

from __future__ import annotations

from dataclasses import dataclass

from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from incidentio.common.errors import ServiceError
from orgs.sso import idp_fetch


class MetadataError(ServiceError):
    """The metadata could not be fetched or does not describe a usable IdP."""


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    x509cert: str


def fetch(url: str) -> str:
    """The metadata XML at ``url``."""
    try:
        return idp_fetch.get(url).text
    except idp_fetch.IdpUnreachable as exc:
        raise MetadataError(str(exc)) from None


def parse(xml: str) -> IdpMetadata:
    """The IdP's entity id, its HTTP-Redirect sign-in URL and its signing
    certificate, from metadata XML. Refuses metadata missing any of them."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml.strip().encode())
    except Exception as exc:  # lxml/defusedxml raise many kinds for malformed XML
        raise MetadataError(f"This is not readable SAML metadata ({type(exc).__name__}).") from None
    idp = parsed.get("idp") or {}
    entity_id = idp.get("entityId", "")
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {}).get("signing", [])), "")
    missing = [label for label, value in (("entity ID", entity_id), ("HTTP-Redirect SingleSignOnService", sso_url),
                                          ("signing certificate", cert)) if not value]
    if missing:
        raise MetadataError(f"The metadata describes no identity provider this site can use: it has no "
                            f"{' and no '.join(missing)}.")
    return IdpMetadata(entity_id=entity_id, sso_url=sso_url, x509cert=cert)
