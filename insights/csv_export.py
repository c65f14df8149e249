"""A chart as a CSV file (``Chart.csv_rows``), safe to open in a spreadsheet.

Cells hold people's text (opt-out reasons, "not doing" reasons, template
titles): a cell a spreadsheet would read as a formula (it starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) gets a leading apostrophe,
as OWASP's "CSV Injection" page recommends, so it shows as text and runs
nothing. Numbers are written as numbers, a negative one included.
"""

from __future__ import annotations

import csv
import io

from insights.charts import Chart
from insights.filters import InsightFilters

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def chart_csv(chart: Chart) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in chart.csv_rows():
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def chart_csv_filename(chart: Chart, filters: InsightFilters) -> str:
    """``insights-declared_per_week-2026-09-08-2026-12-06.csv``: the chart and its range's first and last day."""
    return f"insights-{chart.id}-{filters.period.first.isoformat()}-{filters.period.last.isoformat()}.csv"
