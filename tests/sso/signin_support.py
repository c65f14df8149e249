"""Preconditions the sign-in, enforcement and break-glass tests share.

An org's SSO as a row (the IdP is never reached here: these tests stop at
the hand-off to ``sso_start``; the round trips are the OIDC and SAML tests'),
and "already signed in through SSO" written into a test client's session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client

from orgs import sessions
from orgs.sso.models import ClaimedDomain, OrgSSO, Protocol


def sso_on(org, *, enforced: bool = False, domains: tuple[str, ...] = (), enabled: bool = True) -> OrgSSO:
    """``org`` with an OpenID Connect IdP switched on (and required when ``enforced``)."""
    org_sso = OrgSSO.objects.create(
        org=org, protocol=Protocol.OIDC, oidc_issuer="http://127.0.0.1:9/", oidc_client_id="incidentio",
        oidc_client_secret="not-used-here", enabled=enabled, enforced=enforced,
    )
    for domain in domains:
        ClaimedDomain.objects.create(org=org, domain=domain)
    return org_sso


#: Where ``saml_sso_on``'s IdP would be; the tests only look at the redirect to it.
SAML_IDP_SSO_URL = "http://127.0.0.1:9/saml/sso"


def saml_sso_on(org, *, enforced: bool = False) -> OrgSSO:
    """``org`` with a SAML IdP switched on: starting it is a redirect, no network."""
    return OrgSSO.objects.create(
        org=org, protocol=Protocol.SAML, saml_idp_entity_id="http://127.0.0.1:9/saml",
        saml_idp_sso_url=SAML_IDP_SSO_URL, saml_idp_x509cert=_certificate(), enabled=True, enforced=enforced,
    )


def _certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return "".join(line for line in pem.splitlines() if "CERTIFICATE" not in line)


def hold(client: Client, user, org, *, via: str) -> Client:
    """``client`` holds ``org``'s session as ``user``, signed in ``via`` (as
    ``orgs.sso.sign_in.finish`` or break-glass would have left it)."""
    session = client.session
    raw = dict(session.get(sessions.ORG_SESSIONS_KEY) or {})
    raw[org.slug] = {"uid": user.pk, "hash": user.get_session_auth_hash(), "via": via}
    session[sessions.ORG_SESSIONS_KEY] = raw
    session.save()
    return client


def held_orgs(client: Client) -> dict:
    """{slug: via} of the org sessions ``client`` holds."""
    return {slug: entry.get("via") for slug, entry in (client.session.get(sessions.ORG_SESSIONS_KEY) or {}).items()}


def account_identity(client: Client) -> str | None:
    """The account identity's user id (Django's login) in ``client``'s session."""
    return client.session.get("_auth_user_id")
