"""Each org's OpenID Connect identity provider, as an allauth provider (``org_oidc``).

allauth's own OpenID Connect provider, with what it leaves out put back
(docs/sso.md, "OpenID Connect"): a ``nonce`` on every authorization request,
checked in the ID token; the ID token's signature always verified against the
IdP's published keys (allauth skips that for tokens from the token endpoint),
with its issuer, audience and expiry; the userinfo ``sub`` must be the ID
token's; PKCE always. One provider app per org (``orgs.sso.social_apps``),
named in its URLs by ``OrgSSO.public_id``.
"""
