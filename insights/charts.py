"""The one representation of an Insights chart: the page draws it and shows
it as a table, the CSV download writes its rows, and the API returns it
(``Chart.as_dict``). Rows are "long": one row per bar segment, e.g.
``{"week": "2026-11-02", "severity": "Critical", "incidents": 3, "link": …}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode

from django.urls import reverse


class ChartKind(StrEnum):
    #: Vertical bars over time (``x`` a date); with ``series``, stacked.
    STACKED = "stacked"
    #: Vertical bars over time, one bar per ``series`` side by side; ``marker`` adds a tick (a p90).
    GROUPED = "grouped"
    #: Horizontal bars, one per text category (``x``); with ``series``, stacked.
    HORIZONTAL = "horizontal"


class Unit(StrEnum):
    COUNT = "count"
    HOURS = "hours"
    PERCENT = "percent"
    TEXT = "text"
    DATE = "date"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: Unit = Unit.COUNT


@dataclass
class Chart:
    """One chart of a panel.

    ``x``, ``y``, ``series`` and ``marker`` name columns: ``y`` is the bar's
    length, ``series`` (or None) splits the bars, ``marker`` (or None) is a
    second value drawn as a tick. Every row has a ``link``: the incidents list
    filtered to the incidents behind that bar."""

    id: str
    title: str
    #: One sentence: what is counted, from which timestamp (docs/insights.md has the definitions).
    description: str
    kind: ChartKind
    columns: list[Column]
    x: str
    y: str
    series: str | None = None
    marker: str | None = None
    rows: list[dict] = field(default_factory=list)
    #: What the chart says when it has no rows: what would fill it.
    empty_text: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "description": self.description, "kind": str(self.kind),
            "x": self.x, "y": self.y, "series": self.series, "marker": self.marker,
            "columns": [{"key": c.key, "label": c.label, "unit": str(c.unit)} for c in self.columns],
            "rows": self.rows, "empty_text": self.empty_text,
        }

    def csv_rows(self) -> list[list]:
        """The header and the rows, exactly as the table shows them, plus each row's link."""
        return [[c.label for c in self.columns] + ["Incidents list"]] + [
            [row[c.key] for c in self.columns] + [row["link"]] for row in self.rows
        ]


@dataclass
class Panel:
    slug: str
    title: str
    charts: list[Chart]

    def chart(self, chart_id: str) -> Chart | None:
        return next((c for c in self.charts if c.id == chart_id), None)

    def as_dict(self, filters) -> dict:
        return {
            "panel": self.slug, "title": self.title,
            "range": {"from": filters.period.first.isoformat(), "to": filters.period.last.isoformat(),
                      "time_zone": filters.tz.key, "preset": filters.preset or None},
            "charts": [chart.as_dict() for chart in self.charts],
        }


def incidents_link(org, filters, params: list[tuple[str, str]]) -> str:
    """The dashboard's incidents list showing the incidents behind one bar:
    ``params`` (the list's drill-down filters, docs/incidents.md) plus the
    Insights page's type and severity filters."""
    query = urlencode([*params, *filters.link_params()])
    return f"{reverse('incident_list', kwargs={'org_slug': org.slug})}?{query}"
