"""The base for every org-scoped dashboard view.

``OrgSessionMiddleware`` has already resolved ``request.org``,
``request.membership`` and the org's identity in ``request.user``; this base
adds the role check (403 for members whose role is too low).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.views.generic import View

from orgs.models import Role


class OrgView(View):
    #: The least role that may use this view.
    required_role: str = Role.VIEWER
    #: Roles needed for unsafe methods (POST…) when they differ from reads.
    required_role_to_write: str | None = None

    def dispatch(self, request, *args, **kwargs):
        if not hasattr(request, "membership"):
            raise ImproperlyConfigured(f"{type(self).__name__} needs an <org_slug> URL.")
        self.org = request.org
        self.membership = request.membership
        needed = self.required_role
        if request.method not in ("GET", "HEAD", "OPTIONS") and self.required_role_to_write:
            needed = self.required_role_to_write
        if not self.membership.has_role(needed):
            raise PermissionDenied("Your role does not allow this.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **extra):
        return {"org": self.org, "membership": self.membership, **extra}


class AdminView(OrgView):
    required_role = Role.ADMIN
