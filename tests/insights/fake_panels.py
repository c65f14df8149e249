"""Stand-in panels with chart data of every kind, for the page, CSV and API
tests (and the browser's): ``fake_panels`` puts them in
``insights.panels.PANELS`` for one test, in place of the registered
builders. Their rows have the contract's shapes (insights/charts.py): long
rows keyed by the columns, every week of the range (zeros included), months,
counts, hours with a p90 marker, shares, people's text (some of it
formula-like), and every link built by ``incidents_link`` with the page's
filters; one chart has no rows (the empty state)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insights.charts import Chart, ChartKind, Column, Panel, Unit, incidents_link
from insights.panels import PANELS

#: Reasons people typed, some of which a spreadsheet would run as formulas.
REASONS = ["=HYPERLINK(\"http://evil.test\",\"Click\")", "+1+1", "-2", "@SUM(A1:A9)",
           "A customer-facing status page already explained it, so the team skipped the retrospective", "Duplicate"]


def _mondays(filters):
    monday = filters.period.first - timedelta(days=filters.period.first.weekday())
    while monday <= filters.period.last:
        yield monday
        monday += timedelta(days=7)


def response_panel(org, filters, *, now) -> Panel:
    declared = Chart(
        id="declared_per_week", title="Incidents declared per week", kind=ChartKind.STACKED,
        description="Incidents reported in each week of the range, by severity.",
        columns=[Column("week", "Week", Unit.DATE), Column("severity", "Severity", Unit.TEXT),
                 Column("incidents", "Incidents")],
        x="week", y="incidents", series="severity",
        rows=[{"week": monday.isoformat(), "severity": severity, "incidents": count,
               "link": incidents_link(org, filters, [("reported", f"{year}-W{week:02d}"),
                                                    ("severity", severity.lower())])}
              for index, monday in enumerate(_mondays(filters))
              for year, week, _day in [monday.isocalendar()]
              for severity, count in (("Critical", (index * 7) % 5), ("Minor", 3 + (index * 3) % 4))],
        empty_text="No incident was reported in this range.",
    )
    times = Chart(
        id="response_times", title="Response times", kind=ChartKind.GROUPED,
        description="Median and 90th percentile, in hours, by the month incidents were reported.",
        columns=[Column("month", "Month", Unit.DATE), Column("measure", "Measure", Unit.TEXT),
                 Column("incidents", "Incidents"), Column("median_hours", "Median (hours)", Unit.HOURS),
                 Column("p90_hours", "90th percentile (hours)", Unit.HOURS)],
        x="month", y="median_hours", series="measure", marker="p90_hours",
        rows=[{"month": month, "measure": measure, "incidents": 4, "median_hours": median, "p90_hours": p90,
               "link": incidents_link(org, filters, [("reported", month)])}
              for month in ("2026-10", "2026-11")
              for measure, median, p90 in (("Time to identify", 0.5, 1.2), ("Time to fix", 6.5, 30.1),
                                           ("Duration", 1234.5, 2000.0))],
        empty_text="No incident was reported in this range.",
    )
    return Panel(slug="response", title="Response", charts=[declared, times])


def learning_panel(org, filters, *, now) -> Panel:
    reasons = Chart(
        id="opt_out_reasons", title="Why incidents skipped the learning flow", kind=ChartKind.HORIZONTAL,
        description="Reasons given when closing without the learning flow, most given first.",
        columns=[Column("reason", "Reason", Unit.TEXT), Column("incidents", "Incidents"),
                 Column("references", "References", Unit.TEXT)],
        x="reason", y="incidents",
        rows=[{"reason": reason, "incidents": count, "references": f"INC-{count}, INC-{count + 10}",
               "link": incidents_link(org, filters, [("closed", filters.period.text), ("opt_out_reason", reason)])}
              for reason, count in zip(REASONS, (6, 5, 4, 3, 2, 1), strict=True)],
        empty_text="No incident was closed without the learning flow in this range.",
    )
    outcomes = Chart(
        id="flow_outcomes", title="How closed incidents went", kind=ChartKind.STACKED,
        description="Incidents closed in each month, by what happened to the learning flow.",
        columns=[Column("month", "Month", Unit.DATE), Column("outcome", "Outcome", Unit.TEXT),
                 Column("incidents", "Incidents"), Column("share_percent", "Share (%)", Unit.PERCENT)],
        x="month", y="incidents", series="outcome", rows=[],
        empty_text="No incident was closed in this range.",
    )
    resolved = Chart(
        id="resolved_to_closed", title="From resolved to closed", kind=ChartKind.GROUPED,
        description="Hours from resolved to closed, for incidents that ran the learning flow.",
        columns=[Column("month", "Month", Unit.DATE), Column("incidents", "Incidents"),
                 Column("median_hours", "Median (hours)", Unit.HOURS),
                 Column("p90_hours", "90th percentile (hours)", Unit.HOURS)],
        x="month", y="median_hours", marker="p90_hours",
        rows=[{"month": month, "incidents": n, "median_hours": median, "p90_hours": p90,
               "link": incidents_link(org, filters, [("closed", month), ("learning_flow", "completed")])}
              for month, n, median, p90 in (("2026-09", 2, 20.0, 40.5), ("2026-10", 0, None, None),
                                            ("2026-11", 5, 48.2, 96.0))],
        empty_text="No incident that ran the learning flow was closed in this range.",
    )
    return Panel(slug="learning", title="Learning flow", charts=[reasons, outcomes, resolved])


def tasks_panel(org, filters, *, now) -> Panel:
    outcomes = ("Completed by hand", "Completed automatically", "Not doing", "Outstanding")
    by_template = Chart(
        id="tasks_by_template", title="Tasks by template", kind=ChartKind.HORIZONTAL,
        description="Learning tasks created in the range, by template and how they ended.",
        columns=[Column("template", "Template", Unit.TEXT), Column("outcome", "Outcome", Unit.TEXT),
                 Column("tasks", "Tasks")],
        x="template", y="tasks", series="outcome",
        rows=[{"template": template, "outcome": outcome, "tasks": (index + 2 * position) % 7,
               "link": incidents_link(org, filters, [("task_state", outcome.lower().replace(" ", "_"))])}
              for index, template in enumerate(("Write the post-mortem", "Schedule the debrief", "Added by hand"))
              for position, outcome in enumerate(outcomes)],
        empty_text="No learning task was created in this range.",
    )
    return Panel(slug="tasks", title="Tasks", charts=[by_template])


@pytest.fixture
def fake_panels(monkeypatch):
    """The response, learning and tasks panels replaced by the stand-ins above, for this test only."""
    monkeypatch.setitem(PANELS, "response", response_panel)
    monkeypatch.setitem(PANELS, "learning", learning_panel)
    monkeypatch.setitem(PANELS, "tasks", tasks_panel)
