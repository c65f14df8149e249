"""The OAuth2 adapter and the login/callback views of ``org_oidc``.

allauth's OpenID Connect adapter and views, changed where they trust too much:
the ID token is always verified (``id_token.verify``) with the nonce kept in
this browser's state, the userinfo must describe the same ``sub``, and an
IdP that cannot be reached at the callback is an error page, not a 500.
"""

from __future__ import annotations

import requests
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.http import Http404
from django.urls import reverse

from orgs.sso.oidc import id_token
from orgs.sso.oidc.errors import AnswerRefused, DiscoveryError
from orgs.sso.social_apps import DISCOVERY_KEYS


class OrgOIDCAdapter(OpenIDConnectOAuth2Adapter):
    #: This browser's pending state for the round trip (set by ``CallbackView``):
    #: the nonce sent at the start is in it.
    state: dict | None = None

    @property
    def openid_config(self):
        """allauth's discovery, refusing a document that does not describe the
        issuer configured for the org (OpenID Connect Discovery §4.3)."""
        if not hasattr(self, "_openid_config"):
            # A body that is not JSON raises requests' JSONDecodeError, a RequestException too.
            try:
                _check_discovery(super().openid_config, self.get_provider().app.settings["issuer"])
            except DiscoveryError:
                del self._openid_config  # never cache a document we refused
                raise
        return self._openid_config

    def get_callback_url(self, request, app):
        url = reverse("org_oidc_callback", kwargs={"provider_id": self.provider_id})
        return build_absolute_uri(request, url, self.redirect_uri_protocol)

    def get_access_token_data(self, request, app, client, pkce_code_verifier=None):
        try:
            return super().get_access_token_data(request, app, client, pkce_code_verifier=pkce_code_verifier)
        except OAuth2Error:
            # allauth's message quotes the IdP's whole answer; ours says what it means.
            raise AnswerRefused("The identity provider refused to exchange the sign-in code for tokens "
                                "(check the client ID and secret, and the redirect URI registered at the IdP).") from None

    def complete_login(self, request, app, token, **kwargs):
        raw_id_token = kwargs["response"].get("id_token")
        if not raw_id_token:
            raise AnswerRefused("The identity provider sent no ID token (is the openid scope allowed for this client?).")
        config = self.openid_config
        claims = id_token.verify(raw_id_token, jwks_uri=config["jwks_uri"], issuer=config["issuer"],
                                 client_id=app.client_id, nonce=(self.state or {}).get("nonce"))
        userinfo = self._fetch_user_info(token.token)
        if not isinstance(userinfo, dict) or str(userinfo.get("sub")) != str(claims["sub"]):
            raise AnswerRefused("The identity provider's userinfo describes another person than its ID token (sub).")
        return self.get_provider().sociallogin_from_response(request, {"id_token": claims, "userinfo": userinfo})


def _check_discovery(config, configured_issuer: str) -> None:
    if not isinstance(config, dict) or not all(isinstance(config.get(key), str) for key in DISCOVERY_KEYS):
        raise DiscoveryError("The identity provider's discovery document does not name all the endpoints "
                             f"sign-in needs ({', '.join(DISCOVERY_KEYS)}).")
    if config["issuer"].rstrip("/") != configured_issuer.rstrip("/"):
        raise DiscoveryError(f"The identity provider's discovery document is for the issuer {config['issuer']}, "
                             f"not {configured_issuer}: check the issuer URL in the SSO settings.")


class CallbackView(OAuth2CallbackView):
    def _get_state(self, request, provider):
        state, response = super()._get_state(request, provider)
        if response is not None:
            return state, response
        self.adapter.state = state
        try:
            # Read the discovery here, inside an answer we render: allauth's
            # callback reads it first outside its own error handling.
            self.adapter.openid_config  # noqa: B018
        except requests.RequestException as exc:
            return None, render_authentication_error(request, provider, exception=exc, extra_context={"state": state})
        return state, None


@login_not_required
def login(request, provider_id):
    """Not a way in: a sign-in starts at ``sso_start`` (``orgs.sso.sign_in.start``),
    which puts the org it is for into the state its answer is checked against.
    The route stays because allauth names it (``get_login_url``)."""
    raise Http404("Single sign-on starts from the organization's sign-in.")


@login_not_required
def callback(request, provider_id):
    try:
        return CallbackView.adapter_view(OrgOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
