"""allauth's social-account hooks: provider apps from ``OrgSSO``, and the
sign-in decided by us, not by allauth's sign-up flow."""

from __future__ import annotations

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings

from incidentio.common import egress
from orgs.sso import sign_in, social_apps
from orgs.sso.models import OrgSSO


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        """The provider apps of ``OrgSSO`` rows, matching allauth's lookups by
        provider class (``provider``), app key (``provider`` as ``provider_id``)
        or SAML ``client_id``. Only ours: no app comes from settings or allauth's table.

        A key that is not a UUID (``/accounts/saml/x/metadata/``) names none of
        ours: nothing, without building (and decrypting the secrets of) every org's app."""
        keys = [value for value in (provider, client_id) if value and value not in _PROVIDER_CLASSES]
        if not all(social_apps.is_app_key(key) for key in keys):
            return []
        rows = OrgSSO.objects.select_related("org")
        if keys:
            rows = rows.filter(public_id__in=keys)
        apps = [social_apps.social_app(row) for row in rows]
        if provider:
            apps = [app for app in apps if provider in (app.provider, app.provider_id)]
        if client_id:
            apps = [app for app in apps if app.client_id == client_id]
        return apps

    def pre_social_login(self, request, sociallogin):
        # Always ends the flow (ImmediateHttpResponse): see orgs.sso.sign_in.
        sign_in.finish(request, sociallogin)

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        # Always ends the flow with our page (ImmediateHttpResponse): see orgs.sso.sign_in.
        sign_in.failed(request, provider, error=error, exception=exception, extra_context=extra_context or {})

    def get_requests_session(self):
        """allauth's session (with ``SOCIALACCOUNT_REQUESTS_TIMEOUT``) for every call
        to an IdP: discovery, token, userinfo, JWKS, and SAML metadata
        (``orgs.sso.saml_metadata.fetch``). An owner enters those URLs, so unless
        ``SSO_ALLOW_PRIVATE_ADDRESSES`` it connects to public addresses only,
        raising ``egress.AddressRefused`` (a sentence for the error page) otherwise."""
        session = super().get_requests_session()
        if settings.SSO_ALLOW_PRIVATE_ADDRESSES:
            return session
        return egress.public_only_session(session, service="single sign-on")

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Never reached (pre_social_login answers first); closed should it ever be.
        return False


#: Lookups by provider class (allauth's ``provider``), not by one org's key.
_PROVIDER_CLASSES = (social_apps.OIDC_PROVIDER, social_apps.SAML_PROVIDER)
