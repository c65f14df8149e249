"""Writes and workflows for organizations, memberships and invitations.

Every function is keyword-only and raises ``ServiceError`` (with a message fit
for the user) when a rule forbids the change; nothing is written then.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from orgs.models import (
    RESERVED_SLUGS,
    ApiKey,
    ApiKeyRole,
    Holiday,
    Invitation,
    InvitationState,
    Membership,
    Organization,
    Role,
    User,
    hash_api_token,
    hash_invitation_token,
    validate_single_line,
)
from orgs.time_zones import known_zone


def _clean_name(name: str, *, field: str = "name") -> str:
    """The model's rule for every surface that writes a name, as a ServiceError."""
    name = name.strip()
    try:
        validate_single_line(name)
    except ValidationError as exc:
        raise ServiceError(exc.messages[0], field=field) from None
    return name

# --- Organizations -------------------------------------------------------------


def organization_setup_defaults(*, org: Organization) -> None:
    """Give a new org its default configuration: the one place that does.

    Each subsystem registers a step in ``settings.ORG_SETUP_STEPS``
    (a dotted path to ``step(*, org)``); they run in order, in the caller's
    transaction.
    """
    for path in settings.ORG_SETUP_STEPS:
        import_string(path)(org=org)


@transaction.atomic
def organization_create(*, name: str, slug: str, owner: User) -> Organization:
    name = _clean_name(name)
    slug = slug.strip().lower()
    if not name:
        raise ServiceError("Give the organization a name.", field="name")
    limits.check_length(name, limit=limits.ORG_NAME, field="name", what="the name")
    if slug in RESERVED_SLUGS:
        raise ServiceError(f"“{slug}” is reserved; choose another URL.", field="slug")
    if Organization.objects.filter(slug=slug).exists():
        raise ServiceError(f"The URL /{slug}/ is taken; choose another.", field="slug")
    org = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(org=org, user=owner, role=Role.OWNER)
    organization_setup_defaults(org=org)
    return org


def organization_rename(*, org: Organization, name: str) -> Organization:
    name = _clean_name(name)
    if not name:
        raise ServiceError("Give the organization a name.", field="name")
    limits.check_length(name, limit=limits.ORG_NAME, field="name", what="the name")
    org.name = name
    org.save(update_fields=["name"])
    return org


# --- Memberships ------------------------------------------------------------------


def _lock_owners(org: Organization) -> list[Membership]:
    # Locking every owner row serialises "last owner" decisions: two admins
    # demoting the last two owners at once cannot leave the org ownerless.
    return list(
        Membership.objects.select_for_update().filter(org=org, role=Role.OWNER).order_by("pk")
    )


def _check_may_manage(*, actor: Membership, target_role: str, new_role: str | None = None) -> None:
    """Only owners grant, change or take away the owner role."""
    touches_owner = target_role == Role.OWNER or new_role == Role.OWNER
    if touches_owner and actor.role != Role.OWNER:
        raise ServiceError("Only an owner can change an owner or make someone an owner.")


@transaction.atomic
def membership_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ServiceError(f"Unknown role “{role}”.", field="role")
    _check_may_manage(actor=actor, target_role=membership.role, new_role=role)
    owners = _lock_owners(membership.org)
    membership.refresh_from_db()
    if membership.role == Role.OWNER and role != Role.OWNER and len(owners) <= 1:
        raise ServiceError("An organization needs at least one owner. Make someone else owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, actor: Membership, membership: Membership) -> None:
    _check_may_manage(actor=actor, target_role=membership.role)
    owners = _lock_owners(membership.org)
    membership.refresh_from_db()
    if membership.role == Role.OWNER and len(owners) <= 1:
        raise ServiceError("The last owner cannot be removed. Make someone else owner first.")
    membership.delete()


@transaction.atomic
def membership_leave(*, membership: Membership) -> None:
    owners = _lock_owners(membership.org)
    membership.refresh_from_db()
    if membership.role == Role.OWNER and len(owners) <= 1:
        raise ServiceError(
            "You are the last owner. Make someone else owner before leaving."
        )
    membership.delete()


# --- Invitations ----------------------------------------------------------------------


def invitation_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invitation", kwargs={"token": token})


@transaction.atomic
def invitation_create(*, actor: Membership, email: str, role: str) -> tuple[Invitation, str]:
    """Invite ``email``; returns the invitation and its token (shown only in the e-mail)."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ServiceError(f"Unknown role “{role}”.", field="role")
    _check_may_manage(actor=actor, target_role=role)
    org = actor.org
    if Membership.objects.filter(org=org, user__email__iexact=email).exists():
        raise ServiceError(f"{email} is already a member.", field="email")
    # A fresh invitation replaces pending ones for the same address.
    Invitation.objects.filter(
        org=org, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        org=org,
        email=email,
        role=role,
        token_hash=hash_invitation_token(token),
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    context = {"invitation": invitation, "url": invitation_url(token), "inviter": actor.user}
    # One line whatever the stored names hold: rows saved before names were
    # validated may carry a line break, which send_mail refuses in a header.
    subject = " ".join(f"{actor.user.display_name} invited you to {org.name} on incidentio".split())
    body = render_to_string("orgs/email/invitation.txt", context)
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    )
    return invitation, token


def invitation_revoke(*, invitation: Invitation) -> None:
    if not invitation.is_pending:
        raise ServiceError("Only a pending invitation can be revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


_UNUSABLE = {
    InvitationState.ACCEPTED: "This invitation has already been used.",
    InvitationState.REVOKED: "This invitation was withdrawn. Ask an admin for a new one.",
    InvitationState.EXPIRED: "This invitation has expired. Ask an admin for a new one.",
}


def invitation_problem(invitation: Invitation) -> str | None:
    """Why the invitation cannot be used, or None when it can."""
    return _UNUSABLE.get(invitation.state)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    # Lock the invitation so the same link clicked twice joins once.
    invitation = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
    problem = invitation_problem(invitation)
    if problem:
        raise ServiceError(problem)
    if user.email.lower() != invitation.email.lower():
        raise ServiceError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    membership, _ = Membership.objects.get_or_create(
        org=invitation.org, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


# --- API keys ------------------------------------------------------------------------


def api_key_create(*, org: Organization, name: str, roles: list[str], created_by: User | None) -> tuple[ApiKey, str]:
    """A new key and its token. The token is shown once; only its hash is kept."""
    name = name.strip()
    if not name:
        raise ServiceError("Give the key a name, e.g. the script that uses it.", field="name")
    limits.check_length(name, limit=limits.API_KEY_NAME, field="name", what="the name")
    unknown = [r for r in roles if r not in ApiKeyRole.values]
    if unknown:
        raise ServiceError(f"Unknown role “{unknown[0]}”.", field="roles")
    if not roles:
        raise ServiceError("Give the key at least one role.", field="roles")
    token = "inc_" + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        org=org,
        name=name,
        roles=sorted(set(roles)),
        token_prefix=token[:12],
        token_hash=hash_api_token(token),
        created_by=created_by,
    )
    return key, token


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def user_update_profile(*, user: User, name: str) -> User:
    user.name = limits.check_length(_clean_name(name), limit=limits.USER_NAME, field="name", what="the name")
    user.save(update_fields=["name"])
    return user


def user_update_time_zone(*, user: User, time_zone: str) -> User:
    """The zone the dashboard shows ``user`` times in: an IANA name, or blank
    for the browser's (orgs/time_zones.py)."""
    time_zone = time_zone.strip()
    if time_zone and known_zone(time_zone) is None:
        raise ServiceError(f"“{time_zone}” is not a time zone; choose one from the list, e.g. America/New_York.",
                           field="time_zone")
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    return user


# --- Working calendar (orgs/calendar.py) -------------------------------------------


def working_calendar_update(*, org: Organization, time_zone: str, working_days: list[int]) -> Organization:
    """The org's time zone (an IANA name) and working weekdays (Monday is 0; at least one)."""
    if known_zone(time_zone) is None:
        raise ServiceError(f"“{time_zone}” is not a time zone; choose one from the list, e.g. Europe/Berlin.",
                           field="time_zone")
    days = sorted(set(working_days))
    if not days:
        raise ServiceError("Choose at least one working day.", field="working_days")
    if any(not isinstance(day, int) or not 0 <= day <= 6 for day in days):
        raise ServiceError("Working days are weekdays, Monday (0) to Sunday (6).", field="working_days")
    org.time_zone = time_zone
    org.working_days = days
    org.save(update_fields=["time_zone", "working_days"])
    return org


def holiday_add(*, org: Organization, date, name: str = "") -> Holiday:
    """A day off for the org: due dates counted in business days skip it."""
    name = _clean_name(name or "")
    limits.check_length(name, limit=Holiday._meta.get_field("name").max_length, field="name", what="the name")
    holiday, created = Holiday.objects.get_or_create(org=org, date=date, defaults={"name": name})
    if not created:
        raise ServiceError(f"{date:%-d %B %Y} is already a holiday ({holiday.name or 'no name'}).", field="date")
    return holiday


def holiday_delete(*, holiday: Holiday) -> None:
    holiday.delete()
