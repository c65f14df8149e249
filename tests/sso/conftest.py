"""Real identity providers on loopback for the SSO tests (docs/testing.md, "Single sign-on").

Never mocks of the protocol: an OpenID Connect provider built on Authlib and a
SAML IdP built on pysaml2, each serving HTTP on a free port in this process.
"""

from tests.sso.fixtures_oidc import *  # noqa: F403
from tests.sso.fixtures_saml import *  # noqa: F403
