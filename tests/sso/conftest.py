"""Real identity providers on loopback for the SSO tests (docs/testing.md, "Single sign-on").

Never mocks of the protocol: an OpenID Connect provider built on Authlib and a
SAML IdP built on pysaml2, each serving HTTP on a free port in this process.
"""

import pytest

from tests.sso.fixtures_oidc import *  # noqa: F403
from tests.sso.fixtures_saml import *  # noqa: F403


@pytest.fixture(autouse=True)
def sso_may_call_loopback(settings):
    """The IdPs above serve on 127.0.0.1, which single sign-on refuses to call
    unless ``SSO_ALLOW_PRIVATE_ADDRESSES`` (tests/sso/test_egress.py turns it off)."""
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
