"""``{% live_updates live_version %}``: the live page script (static/js/live.js)
with the version the page was rendered at (templates/_live_updates.html)."""

from __future__ import annotations

from django import template

from incidentio.common.live import poll_interval_ms

register = template.Library()


@register.inclusion_tag("_live_updates.html")
def live_updates(version: str) -> dict:
    return {"version": version, "interval": poll_interval_ms()}
