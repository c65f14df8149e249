"""Times as the dashboard shows them: in the viewer's time zone, always with
the zone's name, in a ``<time>`` element whose ``datetime`` a script or a
screen reader can read (``orgs/time_zones.py`` activates the zone).

``{% local_time value %}``: "7 Dec 2026, 10:23 EST" (or another of
:data:`FORMATS`). ``{% time_ago value %}``: "5 minutes ago", "just now" for
anything under a minute, with the local time as its tooltip.
Dates alone (a due date, the day a key was created) stay ``|date``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timesince import timesince

register = template.Library()

#: Django ``date`` formats; ``T`` is the zone's abbreviation ("EST", "CET", "UTC", "+0530").
FORMATS = {
    "full": "j M Y, H:i T",  # 7 Dec 2026, 10:23 EST
    "short": "j M, H:i T",  # 7 Dec, 10:23 EST: lists within one incident
    "day": "D j M Y, H:i T",  # Mon 7 Dec 2026, 10:23 EST: appointments
    "seconds": "j M Y, H:i:s T",  # deliveries, where seconds tell attempts apart
}
JUST_NOW = timedelta(minutes=1)


@register.filter
def local_text(value: datetime | None, style: str = "full") -> str:
    """``value`` in the active zone as ``style`` (:data:`FORMATS`) says, e.g. "7 Dec 2026, 10:23 EST";
    as a filter, for attributes: ``title="{{ row.since|local_text }}"``."""
    if value is None:
        return ""
    return date_format(timezone.localtime(value), FORMATS[style])


@register.simple_tag
def local_time(value: datetime | None, style: str = "full", empty: str = "—"):
    """``{% local_time incident.reported_at %}``: ``<time datetime="…">7 Dec 2026, 10:23 EST</time>``;
    ``empty`` (an em dash) when there is no time."""
    if value is None:
        return empty
    local = timezone.localtime(value)
    return format_html('<time datetime="{}">{}</time>', local.isoformat(timespec="seconds"), local_text(value, style))


def ago_text(value: datetime, now: datetime | None = None, depth: int = 2) -> str:
    """"3 hours, 5 minutes ago"; "just now" under a minute (timesince would say "0 minutes")."""
    now = now or timezone.now()
    if now - value < JUST_NOW:  # a moment from the future (clocks differ a little) is now too
        return "just now"
    return f"{timesince(value, now, depth=depth)} ago"


@register.simple_tag
def time_ago(value: datetime | None, depth: int = 2, empty: str = "—"):
    """``{% time_ago incident.reported_at %}``: ``<time datetime="…" title="7 Dec 2026, 10:23 EST">5 minutes ago</time>``."""
    if value is None:
        return empty
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"), local_text(value), ago_text(value, depth=depth),
    )
