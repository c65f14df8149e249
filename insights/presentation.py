"""What the Insights page shows of a chart besides the drawing: its table
("Show the numbers"), the data the page's script draws, its CSV link. The
table is rendered on the server from the chart's own columns and rows, so it
says exactly what the CSV and the API say, and works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse

from insights.charts import Chart, Unit
from insights.filters import InsightFilters

NUMERIC = (Unit.COUNT, Unit.HOURS, Unit.PERCENT)


def value_text(value, unit: Unit) -> str:
    """A cell as people read it: thousands separated, ISO dates spelled out ("2 Nov 2026", "Nov 2026")."""
    if value is None:
        return "—"
    if unit == Unit.DATE and isinstance(value, str):
        try:
            if len(value) == 7:  # a month, "2026-11"
                return f"{date.fromisoformat(value + '-01'):%b %Y}"
            day = date.fromisoformat(value)
            return f"{day.day} {day:%b %Y}"
        except ValueError:
            return value
    if unit in NUMERIC and isinstance(value, int | float) and not isinstance(value, bool):
        # As the chart's labels say it (insights.js ``number``): at most one decimal, none when it is 0.
        return f"{value:,.1f}".removesuffix(".0")
    return str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool
    #: The ISO value behind a date cell, for ``<time datetime>``.
    iso: str | None = None


@dataclass(frozen=True)
class ChartView:
    panel_slug: str
    chart: Chart
    #: The id of the ``<figure>``; the chart data's ``json_script`` id is derived from it.
    dom_id: str
    csv_url: str
    header: list[str]
    #: (cells, link) per row.
    rows: list[tuple[list[Cell], str]]

    @property
    def data_id(self) -> str:
        return f"{self.dom_id}-data"

    @property
    def data(self) -> dict:
        return self.chart.as_dict()


def chart_view(org, panel_slug: str, chart: Chart, filters: InsightFilters) -> ChartView:
    csv_url = reverse("insights_csv", kwargs={"org_slug": org.slug, "panel": panel_slug, "chart_id": chart.id})
    query = urlencode(filters.query_params())
    rows = [
        ([Cell(value_text(row[c.key], c.unit), c.unit in NUMERIC,
               row[c.key] if c.unit == Unit.DATE and row[c.key] is not None else None) for c in chart.columns],
         row["link"])
        for row in chart.rows
    ]
    return ChartView(
        panel_slug=panel_slug, chart=chart, dom_id=f"chart-{panel_slug}-{chart.id}",
        csv_url=f"{csv_url}?{query}" if query else csv_url, header=[c.label for c in chart.columns], rows=rows,
    )
