"""Why an OpenID Connect answer was refused, in a sentence for the person signing in."""

from __future__ import annotations

import requests
from allauth.socialaccount.providers.oauth2.client import OAuth2Error


class AnswerRefused(OAuth2Error):
    """The IdP answered, but not with something we accept. allauth's callback
    turns an ``OAuth2Error`` into ``render_authentication_error`` (our error
    page); the message is the reason shown, so it never carries a token or secret."""


class DiscoveryError(requests.RequestException):
    """The IdP's discovery document is not usable. A ``RequestException``, like
    ``requests``' own ``JSONDecodeError``: the IdP cannot be talked to, and
    ``orgs.sso.sign_in`` answers it where it answers an IdP that is down, with
    this message (``explains_itself``)."""

    explains_itself = True
