"""API key roles. Any role reads; writing needs the role the view names."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from orgs.models import ApiKey


class KeyRoles(BasePermission):
    """A view may set ``write_role`` (default: ``ApiKey.may_write``) and ``read_role``."""

    message = "This API key's roles do not allow this."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if request.method in SAFE_METHODS:
            role = getattr(view, "read_role", None)
            return bool(key.roles) if role is None else key.has_role(role)
        role = getattr(view, "write_role", None)
        return key.may_write if role is None else key.has_role(role)
