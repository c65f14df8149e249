"""The ``org_oidc`` provider: allauth's OpenID Connect provider, with a nonce
and PKCE on every authorization request."""

from __future__ import annotations

import secrets

from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from orgs.sso.oidc.views import OrgOIDCAdapter
from orgs.sso.social_apps import OIDC_PROVIDER


class OrgOIDCProvider(OpenIDConnectProvider):
    id = OIDC_PROVIDER
    name = "OpenID Connect (per organization)"
    oauth2_adapter_class = OrgOIDCAdapter
    # allauth's token authentication (an ID token posted by an app, headless)
    # verifies with the algorithm the token names; we only take the code flow.
    supports_token_authentication = False

    def get_pkce_params(self) -> dict:
        # Always, whatever the app's settings say: the code is useless to whoever intercepts it.
        return generate_code_challenge()

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        """allauth's redirect, with a fresh ``nonce`` sent to the IdP and kept in
        this browser's pending state, where the callback compares the ID token's to it."""
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        auth_params = {**(self.get_auth_params() if auth_params is None else auth_params), "nonce": nonce}
        return super().redirect(request, process, next_url=next_url, data=data, auth_params=auth_params,
                                nonce=nonce, **kwargs)

    def verify_token(self, request, token):
        raise NotImplementedError("org_oidc signs in through the authorization code flow only.")


provider_classes = [OrgOIDCProvider]
