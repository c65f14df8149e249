"""1,200 requests per minute per API key, counted in the cache (Redis in production)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from orgs.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"key-{request.auth.pk}"}
