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
    entry = panels.PANELS.get(slug)
    if entry is None:
        return None
    _title, build = entry
    return build(org, filters, now=now)


def insight_panels(org, filters: InsightFilters, *, now: datetime) -> list[tuple[str, Panel]]:
    """Every panel in the page's order, each with the title the page shows for it."""
    return [(title, build(org, filters, now=now)) for title, build in panels.PANELS.values()]
