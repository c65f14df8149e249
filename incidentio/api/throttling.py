"""1,200 requests per minute per API key, counted in the cache (Redis in production).

A fixed one-minute window counted with the cache's atomic ``incr``: DRF's
SimpleRateThrottle keeps a history list it reads, appends to and writes back,
which loses counts when requests from one key arrive in parallel.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from orgs.models import ApiKey

logger = logging.getLogger("incidentio.api")

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"1200/min"`` → (1200, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period]


class ApiKeyRateThrottle(BaseThrottle):
    scope = "api_key"

    def allow_request(self, request, view) -> bool:
        limit, period = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope])
        ident = f"key-{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"ip-{self.get_ident(request)}"
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{window}"
        self._wait = (window + 1) * period - now
        try:
            cache.add(key, 0, timeout=period + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # the key expired between add and incr
                cache.add(key, 1, timeout=period + 1)
                count = 1
        except Exception:
            # Fail open: with the cache (Redis) down the request is still served
            # and its change committed; only the rate limit is not counted.
            logger.warning("API rate limit not counted (%s): the cache is unavailable", ident, exc_info=True)
            return True
        return count <= limit

    def wait(self) -> float:
        return self._wait
