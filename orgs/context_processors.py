"""Template context for the avatar menu: every org session this browser holds."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from orgs import sessions


def org_sessions(request):
    return {"held_org_memberships": SimpleLazyObject(lambda: sessions.usable_memberships(request))}
