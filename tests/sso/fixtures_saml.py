"""SAML IdP fixtures (tests/sso/idps/saml.py)."""
