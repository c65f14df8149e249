"""Template context for the avatar menu: every org session this browser holds."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from orgs import sessions
from orgs.models import Membership


def _held_orgs(request):
    held = sessions.held_sessions(request)
    if not held:
        return []
    by_slug = {h.org_slug: h.user_id for h in held}
    memberships = Membership.objects.select_related("org", "user").filter(
        org__slug__in=by_slug.keys(), user_id__in=set(by_slug.values())
    )
    found = {m.org.slug: m for m in memberships if by_slug.get(m.org.slug) == m.user_id}
    # Keep sign-in order; drop sessions whose membership has gone.
    return [found[h.org_slug] for h in held if h.org_slug in found]


def org_sessions(request):
    return {"held_org_memberships": SimpleLazyObject(lambda: _held_orgs(request))}
