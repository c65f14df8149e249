"""Multi-organization browser sessions (DESIGN §3).

One browser session holds, per organization slug, the identity that signed in
for that org: ``{slug: {"uid": <user pk>, "hash": <session auth hash>}}``. A
request to ``/<org_slug>/…`` acts as that identity and no other
(``OrgSessionMiddleware``). Django's own login (``request.user`` outside org
pages) is the *account* identity: whoever signed in last, used only by
account-level pages such as accepting an invitation or creating a first org.

The stored hash is the user's session auth hash, as Django stores for its own
login, so a password change ends every other browser's sessions for that user.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils.crypto import constant_time_compare

from orgs.models import Membership, User

ORG_SESSIONS_KEY = "_org_sessions"


@dataclass(frozen=True)
class HeldSession:
    org_slug: str
    user_id: int
    auth_hash: str


def held_sessions(request: HttpRequest) -> list[HeldSession]:
    """The org sessions this browser holds, oldest sign-in first."""
    raw = request.session.get(ORG_SESSIONS_KEY) or {}
    return [HeldSession(slug, entry["uid"], entry["hash"]) for slug, entry in raw.items()]


def held_session(request: HttpRequest, org_slug: str) -> HeldSession | None:
    entry = (request.session.get(ORG_SESSIONS_KEY) or {}).get(org_slug)
    if not entry:
        return None
    return HeldSession(org_slug, entry["uid"], entry["hash"])


def hash_is_current(user: User, auth_hash: str) -> bool:
    """Whether ``auth_hash`` still matches the user's password (or a fallback key's)."""
    candidates = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(auth_hash, candidate) for candidate in candidates)


def bind(request: HttpRequest, *, org_slug: str, user: User) -> None:
    """Hold a session for ``org_slug`` as ``user``, replacing any earlier identity."""
    raw = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    raw.pop(org_slug, None)  # re-insert so the dict keeps sign-in order
    raw[org_slug] = {"uid": user.pk, "hash": user.get_session_auth_hash()}
    request.session[ORG_SESSIONS_KEY] = raw


def unbind(request: HttpRequest, *, org_slug: str) -> None:
    raw = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    if raw.pop(org_slug, None) is not None:
        request.session[ORG_SESSIONS_KEY] = raw


def refresh_hashes(request: HttpRequest, *, user: User) -> None:
    """After ``user`` changed their password here, keep this browser signed in."""
    raw = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    for entry in raw.values():
        if entry["uid"] == user.pk:
            entry["hash"] = user.get_session_auth_hash()
    request.session[ORG_SESSIONS_KEY] = raw
    if request.session.get(SESSION_KEY) == str(user.pk):
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    request.session.cycle_key()


def sign_in(request: HttpRequest, user: User, *, backend: str | None = None) -> None:
    """Django's login, keeping the org sessions this browser already holds.

    Django's login flushes the session when a different user signs in; the
    org sessions held for other identities must survive that. The session key
    and the CSRF token are rotated either way.
    """
    held = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    django_login(request, user, backend=backend)
    request.session[ORG_SESSIONS_KEY] = held


def sign_out_of_org(request: HttpRequest, *, org_slug: str) -> None:
    """End this browser's session for one org; the others keep working.

    The session key is rotated so a copy of the old cookie is worthless. When the
    account identity (Django's login) no longer holds any org, it moves to the
    identity of the most recently signed-in org still held, or is signed out.
    """
    unbind(request, org_slug=org_slug)
    remaining = held_sessions(request)
    if not remaining:
        django_logout(request)
        return
    account_uid = request.session.get(SESSION_KEY)
    if account_uid is not None and any(str(h.user_id) == account_uid for h in remaining):
        request.session.cycle_key()
        return
    successor = User.objects.filter(pk=remaining[-1].user_id, is_active=True).first()
    if successor is None:
        django_logout(request)
        return
    backend = request.session.get(BACKEND_SESSION_KEY) or settings.AUTHENTICATION_BACKENDS[0]
    sign_in(request, successor, backend=backend)


def sign_out_everywhere(request: HttpRequest) -> None:
    django_logout(request)


def org_slug_from_path(path: str | None) -> str | None:
    """The org slug an in-app path such as ``/acme/settings/`` points into, if any."""
    if not path:
        return None
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.kwargs.get("org_slug")


def bind_after_sign_in(request: HttpRequest, *, user: User, next_url: str | None) -> str | None:
    """Decide which org sessions a fresh sign-in creates.

    Signing in *for* an org (``next`` points into it) binds that org only, and
    only if ``user`` is a member: signing in as a non-member adds nothing.
    A plain sign-in binds every org of ``user`` this browser does not hold yet.
    Returns the slug that was asked for but refused, for the caller to explain.
    """
    target = org_slug_from_path(next_url)
    if target is not None:
        if Membership.objects.filter(org__slug=target, user=user).exists():
            bind(request, org_slug=target, user=user)
            return None
        return target
    held = {h.org_slug for h in held_sessions(request)}
    slugs = Membership.objects.filter(user=user).order_by("created_at").values_list(
        "org__slug", flat=True
    )
    for slug in slugs:
        if slug not in held:
            bind(request, org_slug=slug, user=user)
    return None
