"""Reading the panels for the page, the CSV downloads and the API: one
builder call per panel shown, with the same ``now`` for every chart of a
request (the snapshot charts count "overdue" and "open for N days" at it)."""

from __future__ import annotations

from datetime import datetime

from insights import panels
from insights.charts import Panel
from insights.filters import InsightFilters


def insight_panel(org, slug: str, filters: InsightFilters, *, now: datetime) -> Panel | None:
    """The panel ``slug`` (a key of ``insights.panels.PANELS``) for these filters; None for an unknown slug."""
    build = panels.PANELS.get(slug)
    return build(org, filters, now=now) if build is not None else None


def insight_panels(org, filters: InsightFilters, *, now: datetime) -> list[Panel]:
    """Every panel in the page's order."""
    return [build(org, filters, now=now) for build in panels.PANELS.values()]
