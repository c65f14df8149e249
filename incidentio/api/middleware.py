"""A request id on every request: in ``request.request_id``, the ``X-Request-Id``
response header, API error bodies, and the log line of every API request."""

from __future__ import annotations

import logging
import re
import time
import uuid

logger = logging.getLogger("incidentio.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        if request.path.startswith("/api/"):
            logger.info(
                "api request_id=%s method=%s path=%s status=%s duration_ms=%d",
                request.request_id, request.method, request.path, response.status_code,
                (time.monotonic() - started) * 1000,
            )
        return response
