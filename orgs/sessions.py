"""Multi-organization browser sessions (docs/multi-org-sessions.md).

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

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from incidentio.common import live
from orgs.models import Membership, User

ORG_SESSIONS_KEY = "_org_sessions"
#: The backend a sign-in records when no backend authenticated the user
#: (an SSO answer, a break-glass link): allauth's, as for its own sign-ins.
SIGN_IN_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"
# The org this browser used last and when it was noted: {"slug": …, "at": <unix time>}.
LAST_USED_KEY = "_org_last_used"
# How often the same org, used on in the same browser, is noted again: a session
# and a membership write at most this often, not one per request.
LAST_USED_REFRESH_SECONDS = 3600


#: How a held org session was signed in (``HeldSession.via``): an org that
#: requires single sign-on accepts only the last two (docs/sso.md).
VIA_PASSWORD = "password"
VIA_SSO = "sso"
VIA_BREAK_GLASS = "break_glass"


@dataclass(frozen=True)
class HeldSession:
    org_slug: str
    user_id: int
    auth_hash: str
    #: Sessions stored before this field existed were password sign-ins.
    via: str = VIA_PASSWORD


def held_sessions(request: HttpRequest) -> list[HeldSession]:
    """The org sessions this browser holds, oldest sign-in first."""
    raw = request.session.get(ORG_SESSIONS_KEY) or {}
    return [HeldSession(slug, entry["uid"], entry["hash"], entry.get("via", VIA_PASSWORD)) for slug, entry in raw.items()]


def held_session(request: HttpRequest, org_slug: str) -> HeldSession | None:
    entry = (request.session.get(ORG_SESSIONS_KEY) or {}).get(org_slug)
    if not entry:
        return None
    return HeldSession(org_slug, entry["uid"], entry["hash"], entry.get("via", VIA_PASSWORD))


def hash_is_current(user: User, auth_hash: str) -> bool:
    """Whether ``auth_hash`` still matches the user's password (or a fallback key's)."""
    candidates = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(auth_hash, candidate) for candidate in candidates)


def bind(request: HttpRequest, *, org_slug: str, user: User, via: str = VIA_PASSWORD) -> None:
    """Hold a session for ``org_slug`` as ``user``, replacing any earlier identity.
    ``via``: how this sign-in happened (``VIA_*``)."""
    raw = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    raw.pop(org_slug, None)  # re-insert so the dict keeps sign-in order
    raw[org_slug] = {"uid": user.pk, "hash": user.get_session_auth_hash(), "via": via}
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

    Django's login flushes the session when a different user signs in, and
    keeps the key when the same user signs in again; here the org sessions
    held for other identities survive, and the session key and the CSRF token
    are rotated on every sign-in.
    """
    held = dict(request.session.get(ORG_SESSIONS_KEY) or {})
    key_before = request.session.session_key
    django_login(request, user, backend=backend)
    request.session[ORG_SESSIONS_KEY] = held
    if key_before is not None and request.session.session_key == key_before:
        request.session.cycle_key()


def restore_after_lapse(request: HttpRequest, held: dict) -> None:
    """Django flushed the session because the account identity's password
    changed elsewhere; the org sessions of *other* identities stay valid."""
    if held and ORG_SESSIONS_KEY not in request.session:
        request.session[ORG_SESSIONS_KEY] = held


def sign_out_of_org(request: HttpRequest, *, org_slug: str) -> None:
    """End this browser's session for one org; the others keep working.

    The session key is rotated so a copy of the old cookie is worthless. When the
    account identity (Django's login) no longer holds any org, it moves to the
    identity of the most recently signed-in org still held, or is signed out.

    An org session signed in through single sign-on never succeeds to the
    account identity: its org's IdP vouches for that org only, and
    ``orgs.sso.sign_in.may_become_account_identity`` decided at sign-in whether
    it may have the account. With no other successor the account identity is
    signed out and the org sessions still held keep working.
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
    # The most recent identity still held that can still use its org, and did not sign in through SSO.
    not_sso = {h.org_slug for h in remaining if h.via != VIA_SSO}
    usable = [m for m in usable_memberships(request) if m.org.slug in not_sso]
    successor = usable[-1].user if usable else None
    if successor is None:
        # No account identity, and a new session key. The SSO sessions stay, as
        # signing out of one org promises; the others left are deactivated or removed.
        sso_held = {slug: entry for slug, entry in request.session[ORG_SESSIONS_KEY].items() if slug not in not_sso}
        django_logout(request)
        if sso_held:
            request.session[ORG_SESSIONS_KEY] = sso_held
        return
    backend = request.session.get(BACKEND_SESSION_KEY) or settings.AUTHENTICATION_BACKENDS[0]
    sign_in(request, successor, backend=backend)


def note_used(request: HttpRequest, membership: Membership) -> None:
    """Remember that this browser has just used ``membership``'s org.

    "Last used" is the org whose pages a browser opened last. The browser keeps
    it in its session (where ``/`` goes) and the membership keeps the time
    (``last_used_at``: where a plain sign-in lands, in any browser). Both are
    written when the browser moves to another org, and at most hourly while it
    stays on one, so a page view usually writes nothing.

    Only pages the person opens count, not a page's own background requests
    (``fetch``, server-sent events: ``Sec-Fetch-Dest: empty``): two tabs on two
    orgs refreshing themselves would otherwise swap "last used", and write, on
    every refresh. A live page's poll (``X-Live-Poll``) does not count either,
    from browsers that send no ``Sec-Fetch-Dest``; nor does a form's post (the
    page it came from counted already).
    """
    if request.method != "GET" or live.is_poll(request):
        return
    if request.headers.get("Sec-Fetch-Dest", "document") != "document":
        return
    now = time.time()
    noted = request.session.get(LAST_USED_KEY) or {}
    if noted.get("slug") == membership.org.slug and now - noted.get("at", 0) < LAST_USED_REFRESH_SECONDS:
        return
    request.session[LAST_USED_KEY] = {"slug": membership.org.slug, "at": now}
    Membership.objects.filter(pk=membership.pk).update(last_used_at=timezone.now())


def last_used_membership(
    memberships: list[Membership], *, slug: str | None, fallback: Membership | None = None
) -> Membership | None:
    """Of ``memberships``, the one this browser (``slug``) or else its person used last.

    Fallbacks, in order: the org named by ``slug`` if it is among them; the most
    recent ``last_used_at``; ``fallback``, else the last in the given order
    (the most recent sign-in).
    """
    if not memberships:
        return None
    for membership in memberships:
        if membership.org.slug == slug:
            return membership
    used = [m for m in memberships if m.last_used_at is not None]
    if used:
        return max(used, key=lambda m: m.last_used_at)
    return fallback or memberships[-1]


def landing_membership(request: HttpRequest, *, held: list[Membership] | None = None) -> Membership | None:
    """Where ``/`` sends this browser: the held org it used last (see
    ``last_used_membership``). ``held``: ``usable_memberships(request)`` if the
    caller has it already."""
    noted = request.session.get(LAST_USED_KEY) or {}
    memberships = usable_memberships(request) if held is None else held
    return last_used_membership(memberships, slug=noted.get("slug"))


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


def sign_in_target(next_url: str | None) -> str | None:
    """The org a sign-in is *for*: the one its ``next`` points into, if any."""
    return org_slug_from_path(next_url)


def may_sign_in_for(user: User, org_slug: str | None) -> bool:
    """Signing in for an org needs membership; a plain sign-in is always fine."""
    return org_slug is None or Membership.objects.filter(org__slug=org_slug, user=user).exists()


def has_membership_outside(user: User, org_slugs: set[str]) -> bool:
    """Whether ``user`` belongs to any org but those."""
    return Membership.objects.filter(user=user).exclude(org__slug__in=org_slugs).exists()


def bind_after_sign_in(
    request: HttpRequest, *, user: User, target: str | None, skip: set[str] = frozenset()
) -> None:
    """Create the org sessions a successful sign-in gives.

    Signing in *for* an org binds that org only (the caller has checked
    membership with ``may_sign_in_for``). A plain sign-in binds every org of
    ``user`` this browser does not hold yet, but the ``skip`` ones (orgs that
    require single sign-on, for a password sign-in).
    """
    if target is not None:
        bind(request, org_slug=target, user=user)
        return
    # Entries whose identity was removed or deactivated do not count as held.
    held = {m.org.slug for m in usable_memberships(request)}
    own = [m for m in Membership.objects.filter(user=user).select_related("org").order_by("created_at")
           if m.org.slug not in skip]
    for membership in own:
        if membership.org.slug not in held:
            bind(request, org_slug=membership.org.slug, user=user)
    # A plain sign-in lands (through ``/``) where this person worked last, in
    # any browser; never used anywhere yet, the org they joined first.
    bound = [m for m in own if held_session(request, m.org.slug).user_id == user.pk]
    landing = last_used_membership(bound, slug=None, fallback=bound[0] if bound else None)
    if landing is not None:
        request.session[LAST_USED_KEY] = {"slug": landing.org.slug, "at": 0}


def usable_memberships(request: HttpRequest, *, current: Membership | None = None) -> list[Membership]:
    """The held org sessions that still work, in sign-in order, with org and user loaded.

    Drops sessions whose membership has gone or whose user was deactivated.
    ``current`` is a membership this request has already checked the same way
    (``OrgSessionMiddleware``, moments ago): it is used as is rather than read
    again, so a browser holding only the org it is on costs no query.
    """
    held = held_sessions(request)
    if not held:
        return []
    by_slug = {h.org_slug: h.user_id for h in held}
    found = {}
    if current is not None and by_slug.get(current.org.slug) == current.user_id:
        found[current.org.slug] = current
    others = {slug: uid for slug, uid in by_slug.items() if slug not in found}
    if others:
        memberships = Membership.objects.select_related("org", "user").filter(
            org__slug__in=others.keys(), user_id__in=set(others.values()), user__is_active=True
        )
        found.update({m.org.slug: m for m in memberships if others.get(m.org.slug) == m.user_id})
    return [found[h.org_slug] for h in held if h.org_slug in found]
