"""OpenID Connect IdP fixtures (tests/sso/idps/oidc.py)."""
