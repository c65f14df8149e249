"""The one way the settings page reads what an identity provider publishes
(OIDC discovery, SAML metadata): allauth's requests session, so its timeout
and the SSO egress guard (``incidentio.common.egress``) apply, and every
failure is a sentence for the owner."""

from __future__ import annotations

import requests
from allauth.socialaccount.adapter import get_adapter

from incidentio.common.errors import ServiceError


class IdpUnreachable(ServiceError):
    """The URL could not be read; the message says why, without requests' internals."""


def get(url: str) -> requests.Response:
    """The successful answer at ``url``."""
    try:
        with get_adapter().get_requests_session() as session:
            response = session.get(url)
            response.raise_for_status()
    except requests.RequestException as exc:
        if getattr(exc, "explains_itself", False):  # e.g. an internal address refused by the egress guard
            raise IdpUnreachable(str(exc)) from None
        raise IdpUnreachable(f"Could not read {url} ({type(exc).__name__}). Check the URL, and that this server "
                             "can reach the identity provider.") from None
    return response
