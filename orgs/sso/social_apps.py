"""The allauth ``SocialApp`` for each org's identity provider, built in memory.

allauth looks provider apps up through ``SocialAccountAdapter.list_apps``
(``orgs.sso.adapter``); we answer from ``OrgSSO`` rows, so secrets stay in our
encrypted columns and allauth's ``SocialApp`` table stays empty. Every app is
``hidden``: it is never listed on allauth's own pages, only started by
``orgs.sso.views``.
"""

from __future__ import annotations

import uuid

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.urls import reverse

from orgs.sso.models import OrgSSO, Protocol

#: The provider class ids allauth knows ours by (``orgs/sso/oidc/provider.py``;
#: SAML is allauth's own provider).
OIDC_PROVIDER = "org_oidc"
SAML_PROVIDER = "saml"


def social_app(org_sso: OrgSSO) -> SocialApp:
    """``org_sso`` as allauth's provider app (unsaved). Its ``provider_id``
    (OIDC) or ``client_id`` (SAML) is ``org_sso.public_id``: the key in every
    URL the IdP is given."""
    key = str(org_sso.public_id)
    if org_sso.protocol == Protocol.OIDC:
        return SocialApp(
            provider=OIDC_PROVIDER,
            provider_id=key,
            name=org_sso.org.name,
            client_id=org_sso.oidc_client_id,
            secret=org_sso.oidc_client_secret,
            settings={"server_url": oidc_discovery_url(org_sso.oidc_issuer), "issuer": org_sso.oidc_issuer,
                      "hidden": True, "oauth_pkce_enabled": True},
        )
    return SocialApp(provider=SAML_PROVIDER, provider_id=key, name=org_sso.org.name, client_id=key,
                     settings=saml_settings(org_sso))


#: What an OIDC discovery document must name for a sign-in (the settings page
#: checks it on save, the sign-in again on every use).
DISCOVERY_KEYS = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


def oidc_discovery_url(issuer: str) -> str:
    """Where ``issuer`` publishes its discovery document: its path without a
    trailing slash, then ``/.well-known/openid-configuration`` (OpenID Connect
    Discovery 1.0, 4). allauth would append to ``https://idp.example/`` as is."""
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def saml_settings(org_sso: OrgSSO) -> dict:
    """allauth's SAML settings for ``org_sso``: strict, signed assertions required."""
    advanced = {
        "strict": True,
        "want_assertion_signed": True,
        "reject_idp_initiated_sso": True,
        "reject_deprecated_algorithm": True,
        # Our own URLs may have a one-label host (a docker-compose service name,
        # "localhost"); python3-saml refuses those unless told.
        "allow_single_label_domains": True,
    }
    if org_sso.saml_sp_private_key:
        advanced.update(private_key=org_sso.saml_sp_private_key, x509cert=org_sso.saml_sp_x509cert,
                        authn_request_signed=True)
    return {
        "hidden": True,
        "idp": {
            "entity_id": org_sso.saml_idp_entity_id,
            "sso_url": org_sso.saml_idp_sso_url,
            "x509cert": org_sso.saml_idp_x509cert,
        },
        # Known to the IdP by the metadata URL the settings page shows (from SITE_URL),
        # whichever host a browser reached us by: allauth would build it from the request.
        "sp": {"entity_id": sp_entity_id(org_sso)},
        "advanced": advanced,
    }


def sp_entity_id(org_sso: OrgSSO) -> str:
    """Our SAML entity ID for ``org_sso``: its SP metadata URL under ``SITE_URL``."""
    path = reverse("saml_metadata", kwargs={"organization_slug": str(org_sso.public_id)})
    return settings.SITE_URL.rstrip("/") + path


def is_app_key(value: str) -> bool:
    """Whether ``value`` can name one of our apps: an ``OrgSSO.public_id`` is a UUID.
    Anything else in a URL (``/accounts/saml/x/acs/``) names none, and is
    answered without a query."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def org_sso_by_key(key: str) -> OrgSSO | None:
    """The ``OrgSSO`` whose app key (``public_id``: URLs, ``SocialApp.provider_id``) is ``key``."""
    if not is_app_key(key):
        return None
    return OrgSSO.objects.select_related("org").filter(public_id=key).first()
