"""Reads for organizations. Tenant-owned rows are always fetched through their org."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from incidentio.common.lookups import get_or_404
from orgs import queries
from orgs.models import Holiday, Invitation, Membership, Organization, hash_invitation_token


def membership_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(org=org).select_related("user").order_by("user__email")


def active_membership(*, org_slug: str, user_id: int) -> Membership | None:
    """The active user's membership of the org with that slug, with ``org`` and
    ``user`` loaded; every dashboard request asks (orgs/middleware.py), so it
    is a prepared statement (``queries.active_membership``)."""
    return queries.active_membership(org_slug, user_id)


def membership_get(*, org: Organization, public_id) -> Membership:
    """A member of ``org``; the same 404 for a missing one and another org's."""
    return get_or_404(Membership.objects.select_related("user", "org").filter(org=org), "member", public_id=public_id)


def invitation_list_pending(*, org: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        org=org,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("invited_by")


def invitation_get(*, org: Organization, public_id) -> Invitation:
    return get_or_404(Invitation.objects.filter(org=org), "invitation", public_id=public_id)


def invitation_by_token(*, token: str) -> Invitation:
    return get_or_404(Invitation.objects.select_related("org"), "invitation", token_hash=hash_invitation_token(token))


def member_id_of(org, user_field: str) -> Subquery:
    """Annotation: the membership id in ``org`` of the user in ``user_field``, a
    user's id in the API (null once they have left the org)."""
    return Subquery(Membership.objects.filter(org=org, user_id=OuterRef(user_field)).values("public_id")[:1])


def holiday_list(*, org: Organization) -> QuerySet[Holiday]:
    return Holiday.objects.filter(org=org).order_by("date")


def holiday_get(*, org: Organization, day) -> Holiday:
    """The org's holiday on ``day``; a day that is not one of its holidays (another org's) is a 404."""
    return get_or_404(Holiday.objects.filter(org=org), "holiday", date=day)
