"""Break-glass: an owner's way into an org that requires SSO when its IdP fails them.

Two proofs, two moments, both kept on the audit list (``BreakGlassSignIn``):

1. ``request_link``: the owner's e-mail and password. When both are right,
   the person owns the org and the org requires SSO, a link is e-mailed to
   them. The page answers the same whatever was wrong, so it tells nobody
   which accounts are owners, or which passwords are right; wrong passwords
   count against the same limit as the sign-in page's (``login_failed``).
2. ``confirm``: the link, used once within ``LINK_TTL``, from a button (a
   post: a mail scanner following the link signs nobody in). It binds the
   org's session in that browser (``VIA_BREAK_GLASS``, which the middleware
   lets through) and tells the org's other owners it happened.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidentio.common.errors import ServiceError
from orgs import sessions
from orgs.models import Membership, Role
from orgs.sso import routing
from orgs.sso.models import BreakGlassSignIn

logger = logging.getLogger(__name__)

#: How long an e-mailed link works.
LINK_MINUTES = 15
LINK_TTL = timedelta(minutes=LINK_MINUTES)
#: The rate limit wrong passwords count against: the sign-in page's, per e-mail.
RATE_LIMIT_ACTION = "login_failed"


class TooManyAttempts(ServiceError):
    """Too many wrong passwords for this e-mail (or from this address) lately."""


class LinkUnusable(ServiceError):
    """The link is unknown, used, expired, or its owner no longer may use it."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("sso_break_glass_confirm", kwargs={"token": token})


def request_link(request, *, org_slug: str, email: str, password: str) -> None:
    """E-mail a break-glass link when ``email``/``password`` are an owner's of
    ``org_slug`` and the org requires SSO; else nothing. Returns nothing either
    way: the caller answers the same. Raises ``TooManyAttempts`` past the limit."""
    key = email.strip().lower()
    if not ratelimit.consume(request, action=RATE_LIMIT_ACTION, key=key, dry_run=True):
        raise TooManyAttempts("Too many failed attempts for this e-mail. Wait a few minutes, then try again.")
    # Django's authenticate hashes the password even for an unknown address,
    # so the answer takes as long whether or not the account exists.
    user = authenticate(request, email=key, password=password)
    if user is None:
        ratelimit.consume(request, action=RATE_LIMIT_ACTION, key=key)
        return
    org_sso = routing.enabled_sso(org_slug)
    if not routing.requires_sso(org_sso) or not routing.is_owner(user, org_sso.org):
        return
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        BreakGlassSignIn.objects.create(
            org=org_sso.org, user=user, token_hash=hash_token(token),
            requested_ip=_client_ip(request), user_agent=request.headers.get("User-Agent", "")[:300],
        )
        context = {"org": org_sso.org, "user": user, "url": link_url(token), "minutes": LINK_MINUTES}
        subject = " ".join(f"Break-glass sign-in to {org_sso.org.name}".split())
        body = render_to_string("sso/email/break_glass_link.txt", context)
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]))


def usable_link(token: str) -> BreakGlassSignIn:
    """The pending sign-in ``token`` confirms. Raises ``LinkUnusable``."""
    sign_in = (
        BreakGlassSignIn.objects.select_related("org", "user")
        .filter(token_hash=hash_token(token), confirmed_at__isnull=True,
                requested_at__gt=timezone.now() - LINK_TTL)
        .first()
    )
    if sign_in is None or not sign_in.user.is_active or not routing.is_owner(sign_in.user, sign_in.org):
        raise LinkUnusable("This break-glass link has expired or was used already. Request a new one.")
    return sign_in


def confirm(request, *, token: str) -> BreakGlassSignIn:
    """Use the link: this browser holds the org's session as its owner, the
    audit row says when and from where, the other owners are told."""
    sign_in = usable_link(token)
    now = timezone.now()
    ip = _client_ip(request)
    with transaction.atomic():
        # Single use even against two posts at once: only one update finds it unconfirmed.
        claimed = BreakGlassSignIn.objects.filter(pk=sign_in.pk, confirmed_at__isnull=True).update(
            confirmed_at=now, confirmed_ip=ip)
        if not claimed:
            raise LinkUnusable("This break-glass link has expired or was used already. Request a new one.")
        sign_in.confirmed_at, sign_in.confirmed_ip = now, ip
        _tell_other_owners(sign_in)
    user = sign_in.user
    sessions.sign_in(request, user, backend=sessions.SIGN_IN_BACKEND)
    sessions.bind(request, org_slug=sign_in.org.slug, user=user, via=sessions.VIA_BREAK_GLASS)
    logger.info("Break-glass sign-in confirmed: user %s, org %s", user.pk, sign_in.org.slug)
    return sign_in


def _tell_other_owners(sign_in: BreakGlassSignIn) -> None:
    owners = list(
        Membership.objects.filter(org=sign_in.org, role=Role.OWNER, user__is_active=True)
        .exclude(user=sign_in.user).values_list("user__email", flat=True)
    )
    if not owners:
        return
    subject = " ".join(f"{sign_in.user.email} used a break-glass sign-in to {sign_in.org.name}".split())
    body = render_to_string("sso/email/break_glass_used.txt", {"sign_in": sign_in})
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, owners))



def _client_ip(request) -> str | None:
    return get_adapter(request).get_client_ip(request) or None
