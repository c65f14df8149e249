"""Preconditions the sign-in, enforcement and break-glass tests share.

An org's SSO as a row (the IdP is never reached here: these tests stop at
the hand-off to ``sso_start``; the round trips are the OIDC and SAML tests'),
and "already signed in through SSO" written into a test client's session.
"""

from __future__ import annotations

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
