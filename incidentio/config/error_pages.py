"""Friendly error pages that Django would otherwise render bare."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

from incidentio.common.links import same_site_referer


def csrf_failure(request, reason: str = ""):
    """A form posted with a stale CSRF token.

    Every sign-in rotates the token (docs/multi-org-sessions.md), so a form left open in another
    tab goes stale when someone signs in to another org in this browser. Say so,
    and offer the page again, instead of Django's bare "CSRF verification failed".
    """
    return render(request, "403_csrf.html", {"back": same_site_referer(request) or "/"}, status=403)


def server_error(request):
    """A 500: the API answers in its JSON error shape, with the request id that is
    also in the log; pages get the plain error page."""
    request_id = getattr(request, "request_id", "")
    if request.path.startswith("/api/"):
        body = {
            "type": "server_error",
            "status": 500,
            "request_id": request_id,
            "errors": [{"code": "server_error", "message": "Something went wrong on our side; it was logged."}],
        }
        return JsonResponse(body, status=500)
    return render(request, "500.html", {"request_id": request_id}, status=500)
