"""Single sign-on per organization, through django-allauth's providers (docs/sso.md).

Each org with SSO has one ``OrgSSO`` row: an OpenID Connect or a SAML 2.0
identity provider. allauth speaks the protocol; this package decides who the
identity is in *this* org (``services``) and binds only that org's session in
the browser (``sign_in``), so one browser can hold orgs signed in through
different identity providers as different people.
"""
