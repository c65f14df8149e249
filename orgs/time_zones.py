"""The viewer's time zone: which zone the dashboard shows times in.

Per request, the first of these that names a time zone this system knows:

1. the person's preference (``User.time_zone``, the Preferences page), on
   organization pages, where ``request.user`` is the identity of that org;
2. the browser's zone, from the ``tz`` cookie ``static/js/timezone.js`` sets
   from ``Intl.DateTimeFormat().resolvedOptions().timeZone``;
3. the organization's zone (``Organization.time_zone``, its working calendar);
4. the project's default, ``settings.TIME_ZONE`` (UTC).

:class:`TimeZoneMiddleware` activates it with ``django.utils.timezone.activate``,
so templates, the ``{% local_time %}`` tag and forms' datetime fields read and
show times in it; the database keeps UTC. A cookie is the browser's say, so
it is checked like any input: an unknown name is ignored, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from django.utils import timezone

from orgs.calendar import time_zone_names

COOKIE_NAME = "tz"


class Source:
    PREFERENCE = "preference"
    BROWSER = "browser"
    ORGANIZATION = "organization"
    DEFAULT = "default"


@dataclass(frozen=True)
class ViewerZone:
    name: str
    #: Which rule chose it (:class:`Source`): ``timezone.js`` reloads a page
    #: rendered before the browser could say its zone.
    source: str


def known_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone this system knows, else None."""
    if not name:
        return None
    return name if name in time_zone_names() else None


def browser_zone(request) -> str | None:
    """The zone the browser reported in its cookie, when it is a real one."""
    raw = request.COOKIES.get(COOKIE_NAME)
    # Cookie values are at most a few dozen characters; a longer one is not a zone.
    return known_zone(unquote(raw)) if raw and len(raw) <= 128 else None


def viewer_zone(request, *, user=None, org=None) -> ViewerZone:
    preferred = known_zone(getattr(user, "time_zone", None)) if user is not None else None
    if preferred:
        return ViewerZone(preferred, Source.PREFERENCE)
    browser = browser_zone(request)
    if browser:
        return ViewerZone(browser, Source.BROWSER)
    org_zone = known_zone(getattr(org, "time_zone", None)) if org is not None else None
    if org_zone:
        return ViewerZone(org_zone, Source.ORGANIZATION)
    return ViewerZone(timezone.get_default_timezone_name(), Source.DEFAULT)


class TimeZoneMiddleware:
    """Activates the viewer's zone (module docstring) for a dashboard view.

    In ``process_view``, after ``OrgSessionMiddleware`` (so it comes after it
    in ``MIDDLEWARE``) has resolved an org page's org and identity. The API
    (Django REST framework views) keeps UTC: its clients are programs, and its
    timestamps must not change offset with a browser's cookie. The zone is
    deactivated after the response: the thread serves other people next.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _is_api_view(view_func):
            return None
        org = getattr(request, "org", None)
        user = request.user if org is not None else None
        zone = viewer_zone(request, user=user, org=org)
        request.viewer_zone = zone
        timezone.activate(ZoneInfo(zone.name))
        return None


def _is_api_view(view_func) -> bool:
    from rest_framework.views import APIView

    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)
