"""Template context for the avatar menu: every org session this browser holds."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from orgs import sessions


def org_sessions(request):
    # On org pages the middleware has just checked this org's membership: reuse it.
    current = getattr(request, "membership", None)
    return {"held_org_memberships": SimpleLazyObject(lambda: sessions.usable_memberships(request, current=current))}
