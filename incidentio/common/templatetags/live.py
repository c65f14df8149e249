"""``{% live_updates live_version %}``: the live page script (static/js/live.js)
with the version the page was rendered at; nothing without one (a page
rendered for a failed form post is not polled: its URL is the form's)."""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

from incidentio.common.live import poll_interval_ms

register = template.Library()


@register.simple_tag
def live_updates(version: str | None) -> str:
    if not version:
        return ""
    return format_html('<script src="{}" defer data-live-version="{}" data-live-interval="{}"></script>',
                       static("js/live.js"), version, poll_interval_ms())
