"""Live pages: an open incident page or incidents list shows what changed
without a reload (docs/dashboard.md, "Live pages").

The page's script (``static/js/live.js``) asks for the page's own URL again
every ``LIVE_POLL_SECONDS`` with the ``X-Live-Poll`` header and, in
``If-None-Match``, the version the page it has was rendered at. The view
works out the current version first, from one cheap query that hashes what
the page reads (``learning.queries.incident_page_version``,
``selectors.incident_list_version``): the same version is a ``304`` with no
template rendered; another is the page itself, rendered as for a reload, from
which the script takes the marked regions. One read path: the update is the
page.

Only the script's requests are answered conditionally and carry an ``ETag``:
a browser never caches the page itself under a version (its forms carry a
CSRF token and its flash messages are for one view).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import quote_etag
from django.utils.http import parse_etags

#: The header live.js sends with every poll.
POLL_HEADER = "X-Live-Poll"


def is_poll(request: HttpRequest) -> bool:
    return request.headers.get(POLL_HEADER) == "1"


def page_version(request: HttpRequest, data_digest: str, *extra) -> str:
    """The version of an org page: the digest of the data it shows, and what
    its rendering takes from the viewer and the org besides (their role
    decides which forms it has; the time zone its times; the org's name and
    time zone appear in it). ``extra``: anything else the page depends on."""
    org, membership = request.org, request.membership
    parts = (data_digest, membership.role, org.name, org.time_zone, timezone.get_current_timezone_name(), *extra)
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def not_modified(request: HttpRequest, version: str | None) -> HttpResponse | None:
    """A ``304`` for a poll whose page is still at ``version``; None otherwise (render the page)."""
    if version is None or not is_poll(request):
        return None
    if quote_etag(version) not in parse_etags(request.headers.get("If-None-Match", "")):  # quoted, both
        return None
    return _poll_headers(HttpResponseNotModified(), version)


def respond(request: HttpRequest, response: HttpResponse, version: str | None) -> HttpResponse:
    """The rendered page; for a poll, with its version, and with the flash
    messages it rendered kept for the next page the viewer opens (the script
    does not show them: they belong to the page after a form's redirect)."""
    if version is not None and is_poll(request):
        get_messages(request).used = False
        _poll_headers(response, version)
    return response


def _poll_headers(response: HttpResponse, version: str) -> HttpResponse:
    response["ETag"] = quote_etag(version)
    response["Cache-Control"] = "no-store"
    return response


def poll_interval_ms() -> int:
    return settings.LIVE_POLL_SECONDS * 1000
