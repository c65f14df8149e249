"""Every API error in one shape (docs/api.md), with the request id that is also logged:

``{"type": "validation_error", "status": 422, "request_id": "...",
"errors": [{"code": "...", "message": "...", "source": {"field": "..."}}]}``
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from incidentio.common.errors import ServiceError

logger = logging.getLogger("incidentio.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_response(request, status_code: int, errors: list[dict], headers: dict | None = None) -> Response:
    request_id = getattr(request, "request_id", "")
    body = {
        "type": _TYPES.get(status_code, "server_error"),
        "status": status_code,
        "request_id": request_id,
        "errors": errors,
    }
    logger.info(
        "api_error request_id=%s status=%s path=%s codes=%s",
        request_id, status_code, request.path, ",".join(e["code"] for e in errors),
    )
    return Response(body, status=status_code, headers=headers)


def _join(field: str | None, key) -> str | None:
    """``learning_statuses`` + 1 → ``learning_statuses[1]``; ``a`` + ``b`` → ``a.b``."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{field}[{key}]" if field else f"[{key}]"
    if key == "non_field_errors":
        return field
    return f"{field}.{key}" if field else key


def _flatten(detail, field: str | None = None) -> list[dict]:
    """DRF's nested ValidationError detail → a flat list naming each field."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out += _flatten(value, _join(field, key))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (dict, list))
            out += _flatten(value, _join(field, index) if nested else field)
        return out
    error = {"code": getattr(detail, "code", "invalid") or "invalid", "message": str(detail)}
    if field:
        error["source"] = {"field": field}
    return [error]


def exception_handler(exc, context):
    request = context["request"]
    if isinstance(exc, ServiceError):
        error = {"code": "invalid", "message": str(exc)}
        if exc.field:
            error["source"] = {"field": exc.field}
        set_rollback()
        return error_response(request, status.HTTP_422_UNPROCESSABLE_ENTITY, [error])
    if isinstance(exc, RequestDataTooBig):
        set_rollback()
        message = f"The request body is too large (the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."
        return error_response(request, 413, [{"code": "request_too_large", "message": message}])
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found: there is no such object in this organization.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handling (and logging) applies

    set_rollback()
    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if isinstance(exc, exceptions.ValidationError):
        return error_response(request, 422, _flatten(exc.detail), headers)
    if isinstance(exc, exceptions.NotAuthenticated):
        message = "Send an API key: “Authorization: Bearer <key>”."
        return error_response(request, 401, [{"code": "not_authenticated", "message": message}], headers)
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
    return error_response(request, exc.status_code, [{"code": code, "message": str(exc.detail)}], headers)
