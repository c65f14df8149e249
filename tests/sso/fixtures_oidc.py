"""OpenID Connect IdP fixtures (tests/sso/idps/oidc.py) and the round trip through one.

``oidc_round_trip`` is what a browser does, with Django's test client on our
side and ``requests`` at the IdP, never following a redirect on its own: each
hop is a real HTTP answer, so a test can stop between hops (take the IdP down,
hand the answer to another browser).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from orgs.models import Role
from orgs.sso.models import ClaimedDomain, OrgSSO, Protocol
from tests.sso.idps.oidc import OidcIdp

__all__ = ["oidc_idp", "other_oidc_idp", "oidc_sso_for", "idp_answer", "oidc_round_trip"]


@pytest.fixture
def oidc_idp():
    """An OIDC IdP on loopback whose client authenticates with ``client_secret_post``."""
    idp = OidcIdp(client_id="incidentio-acme").start()
    yield idp
    idp.stop()


@pytest.fixture
def other_oidc_idp():
    """A second, unrelated IdP (another org's), using ``client_secret_basic``."""
    idp = OidcIdp(client_id="incidentio-globex", auth_method="client_secret_basic").start()
    yield idp
    idp.stop()


def oidc_sso_for(org, idp: OidcIdp, *, domains=(), default_role=Role.RESPONDER, group_roles=None,
                 enabled: bool = True) -> OrgSSO:
    """``org`` signing in through ``idp``, claiming ``domains``."""
    org_sso = OrgSSO.objects.create(
        org=org, protocol=Protocol.OIDC, oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
        oidc_client_secret=idp.client_secret, enabled=enabled, default_role=default_role,
        group_roles=group_roles or {},
    )
    for domain in domains:
        ClaimedDomain.objects.create(org=org, domain=domain)
    return org_sso


def idp_answer(client, start_path: str, idp: OidcIdp) -> str:
    """Start at ``start_path`` with ``client`` and let ``idp`` answer: the
    path (with query) of our callback the IdP redirects the browser to."""
    start = client.get(start_path)
    assert start.status_code == 302, start.content.decode()[:2000]
    assert start["Location"].startswith(f"{idp.issuer}/authorize?"), start["Location"]
    authorize = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert authorize.status_code == 302, authorize.text[:2000]
    callback = urlsplit(authorize.headers["Location"])
    return f"{callback.path}?{callback.query}"


def oidc_round_trip(client, start_path: str, idp: OidcIdp):
    """The whole sign-in: our start → the IdP's authorize → our callback. The
    callback's response (a redirect into the org, or the error page)."""
    return client.get(idp_answer(client, start_path, idp))
