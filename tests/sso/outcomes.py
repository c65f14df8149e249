"""What the SSO tests check after a round trip, the same way for both protocols."""

from __future__ import annotations

import html

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from orgs import sessions
from orgs.models import Membership, User


def snapshot() -> tuple:
    """Everything a sign-in may create or change: a refused one leaves it equal."""
    return (
        sorted(User.objects.values_list("email", "is_active")),
        sorted(Membership.objects.values_list("org__slug", "user__email", "role")),
        sorted(SocialAccount.objects.values_list("provider", "uid")),
        sorted(EmailAddress.objects.values_list("email", "verified")),
    )


def assert_error_page(response, sentence: str, status: int = 401):
    """SSO's one error page (templates/sso/error.html), saying ``sentence``."""
    body = html.unescape(response.content.decode())
    assert response.status_code == status, body[:2000]
    assert "Single sign-on did not sign you in" in body
    assert sentence in body, body[:3000]


def held(client) -> dict:
    """The org sessions the client's browser holds: {slug: (email, via)}."""
    raw = client.session.get(sessions.ORG_SESSIONS_KEY) or {}
    return {slug: (User.objects.get(pk=entry["uid"]).email, entry.get("via")) for slug, entry in raw.items()}
