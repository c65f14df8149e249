"""The Response panel (docs/insights.md): incidents declared per week and
response times per month, over the incidents in scope reported in the range,
in the org's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from incidentio.incidents.models import IncidentType
from insights.filters import COUNTED_CATEGORIES
from insights.panels import response
from tests.insights.incident_rows import filters_for, incident, local, severity

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _link(*params, page=()) -> str:
    """The incidents list behind a bar: its own filters, the counted categories, the page's filters."""
    return "/acme/incidents/?" + urlencode([*params, *[("category", c) for c in COUNTED_CATEGORIES], *page])


def _chart(org, query, chart_id):
    return response.panel(org, filters_for(org, query), now=NOW).chart(chart_id)


def test_the_panel_is_response_with_its_two_charts(org):
    panel = response.panel(org, filters_for(org, ""), now=NOW)
    assert (panel.slug, panel.title) == ("response", "Response")
    assert [chart.id for chart in panel.charts] == ["declared_per_week", "response_times"]


def test_declared_per_week_counts_local_weeks_by_severity_in_the_orgs_order(org, globex):
    minor, critical = severity(org, "Minor"), severity(org, "Critical")
    # Sunday 1 Nov, 23:30 in New York, after the clocks went back that morning:
    # already Monday 2 Nov in UTC, still the week of 26 Oct in New York.
    incident(org, reported_at=local("2026-11-01 23:30"), severity_name="Critical", status_name="Closed")
    incident(org, reported_at=local("2026-10-26 00:30"), severity_name="Minor")  # the range's first half hour
    incident(org, reported_at=local("2026-11-08 23:59"))  # no severity, the range's last minute
    incident(org, reported_at=local("2026-11-03 12:00"), severity_name="Minor", status_name="Triage")
    # Sunday 25 Oct, 23:59 in New York: before the range, though 26 Oct in UTC.
    incident(org, reported_at=local("2026-10-25 23:59"), severity_name="Minor")
    # Declined, merged and canceled incidents are not counted: Major has none left.
    for name in ("Declined", "Merged", "Canceled"):
        incident(org, reported_at=local("2026-11-04 10:00"), severity_name="Major", status_name=name)
    incident(globex, reported_at=local("2026-11-04 10:00"), severity_name="Minor")

    chart = _chart(org, "from=2026-10-26&to=2026-11-08", "declared_per_week")

    assert chart.rows == [
        {"week": "2026-10-26", "severity": "Minor", "incidents": 1,
         "link": _link(("reported", "2026-W44"), ("severity", str(minor.public_id)))},
        {"week": "2026-10-26", "severity": "Critical", "incidents": 1,
         "link": _link(("reported", "2026-W44"), ("severity", str(critical.public_id)))},
        {"week": "2026-10-26", "severity": "No severity", "incidents": 0,
         "link": _link(("reported", "2026-W44"), ("severity", "none"))},
        {"week": "2026-11-02", "severity": "Minor", "incidents": 1,
         "link": _link(("reported", "2026-W45"), ("severity", str(minor.public_id)))},
        {"week": "2026-11-02", "severity": "Critical", "incidents": 0,
         "link": _link(("reported", "2026-W45"), ("severity", str(critical.public_id)))},
        {"week": "2026-11-02", "severity": "No severity", "incidents": 1,
         "link": _link(("reported", "2026-W45"), ("severity", "none"))},
    ]
    assert (chart.x, chart.y, chart.series, str(chart.kind)) == ("week", "incidents", "severity", "stacked")


def test_declared_per_week_shows_every_week_and_links_a_partial_week_to_its_days_in_the_range(org):
    incident(org, reported_at=local("2026-11-10 09:00"), severity_name="Major")
    major = severity(org, "Major")

    # Wednesday 28 Oct to Tuesday 17 Nov: a partial week at each end, and a week with nothing.
    chart = _chart(org, "from=2026-10-28&to=2026-11-17", "declared_per_week")

    assert [(row["week"], row["incidents"], row["link"]) for row in chart.rows] == [
        ("2026-10-26", 0, _link(("reported", "2026-10-28..2026-11-01"), ("severity", str(major.public_id)))),
        ("2026-11-02", 0, _link(("reported", "2026-W45"), ("severity", str(major.public_id)))),
        ("2026-11-09", 1, _link(("reported", "2026-W46"), ("severity", str(major.public_id)))),
        ("2026-11-16", 0, _link(("reported", "2026-11-16..2026-11-17"), ("severity", str(major.public_id)))),
    ]


def test_type_and_severity_filters_narrow_the_incidents_and_the_links(org):
    security = IncidentType.objects.create(org=org, name="Security", rank=1)
    critical = severity(org, "Critical")
    incident(org, reported_at=local("2026-11-03 10:00"), severity_name="Critical", incident_type=security,
             identified_at=local("2026-11-03 12:00"))
    incident(org, reported_at=local("2026-11-03 10:00"), severity_name="Minor", incident_type=security,
             identified_at=local("2026-11-03 11:00"))
    incident(org, reported_at=local("2026-11-03 10:00"), severity_name="Critical",
             identified_at=local("2026-11-03 11:00"))  # the default type

    query = f"from=2026-11-02&to=2026-11-08&incident_type={security.public_id}&severity={critical.public_id}"
    panel = response.panel(org, filters_for(org, query), now=NOW)

    # The bar's severity replaces the page's severity filter in the link; the type filter is kept.
    assert panel.chart("declared_per_week").rows == [
        {"week": "2026-11-02", "severity": "Critical", "incidents": 1,
         "link": _link(("reported", "2026-W45"), ("severity", str(critical.public_id)),
                       page=[("incident_type", str(security.public_id))])},
    ]
    assert [(row["measure"], row["incidents"], row["median_hours"], row["link"])
            for row in panel.chart("response_times").rows] == [
        ("Time to identify", 1, 2.0, _link(("reported", "2026-W45"), page=[("incident_type", str(security.public_id)), ("severity", str(critical.public_id))])),
        ("Time to fix", 0, None, _link(("reported", "2026-W45"), page=[("incident_type", str(security.public_id)), ("severity", str(critical.public_id))])),
        ("Duration", 0, None, _link(("reported", "2026-W45"), page=[("incident_type", str(security.public_id)), ("severity", str(critical.public_id))])),
    ]


def _reported(at: str, **hours_after):
    """Keyword ``identified=1.5`` → ``identified_at`` 1.5 hours after ``at`` (negative: before)."""
    start = local(at)
    return {"reported_at": start, **{f"{name}_at": start + timedelta(hours=h) for name, h in hours_after.items()}}


def test_response_times_are_percentiles_per_local_month_of_report(org, globex):
    # October, in New York.
    incident(org, **_reported("2026-10-05 10:00", identified=1, fixed=3, impact_started=-1, resolved=5))
    incident(org, **_reported("2026-10-12 10:00", identified=2, fixed=5, resolved=4), status_name="Closed")
    incident(org, **_reported("2026-10-20 10:00", identified=4))
    # Identified before reported and impact starting after the resolution: those two spans are skipped.
    incident(org, **_reported("2026-10-21 10:00", identified=-1, fixed=10, impact_started=11, resolved=10))
    # 23:59 on 31 Oct in New York is 1 Nov in UTC: still October here.
    incident(org, **_reported("2026-10-31 23:59", identified=0.25))
    # Not counted: declined, merged, canceled, another org's, reported before the range.
    for name in ("Declined", "Merged", "Canceled"):
        incident(org, **_reported("2026-10-05 10:00", identified=100, fixed=100, resolved=100), status_name=name)
    incident(globex, **_reported("2026-10-05 10:00", identified=100, fixed=100, resolved=100))
    incident(org, **_reported("2026-08-31 23:59", identified=100, fixed=100, resolved=100))
    # November: one incident, 10 minutes to identify and 1 h 35 min to fix (rounded to 0.2 and 1.6 hours).
    incident(org, **_reported("2026-11-10 09:00", identified=10 / 60, fixed=95 / 60))

    chart = _chart(org, "from=2026-09-01&to=2026-11-30", "response_times")

    september, october, november = (_link(("reported", month)) for month in ("2026-09", "2026-10", "2026-11"))
    assert chart.rows == [
        {"month": "2026-09", "measure": "Time to identify", "incidents": 0, "median_hours": None,
         "p90_hours": None, "link": september},
        {"month": "2026-09", "measure": "Time to fix", "incidents": 0, "median_hours": None,
         "p90_hours": None, "link": september},
        {"month": "2026-09", "measure": "Duration", "incidents": 0, "median_hours": None,
         "p90_hours": None, "link": september},
        # 0.25, 1, 2, 4 hours: the median halfway between 1 and 2; the p90 at 2.7 of 3 steps, 2 + 0.7 × 2.
        {"month": "2026-10", "measure": "Time to identify", "incidents": 4, "median_hours": 1.5,
         "p90_hours": 3.4, "link": october},
        # 3, 5, 10 hours.
        {"month": "2026-10", "measure": "Time to fix", "incidents": 3, "median_hours": 5.0,
         "p90_hours": 9.0, "link": october},
        # 6 hours (from impact start), 4 hours (from report).
        {"month": "2026-10", "measure": "Duration", "incidents": 2, "median_hours": 5.0,
         "p90_hours": 5.8, "link": october},
        {"month": "2026-11", "measure": "Time to identify", "incidents": 1, "median_hours": 0.2,
         "p90_hours": 0.2, "link": november},
        {"month": "2026-11", "measure": "Time to fix", "incidents": 1, "median_hours": 1.6,
         "p90_hours": 1.6, "link": november},
        {"month": "2026-11", "measure": "Duration", "incidents": 0, "median_hours": None,
         "p90_hours": None, "link": november},
    ]
    assert (chart.x, chart.y, chart.series, chart.marker) == ("month", "median_hours", "measure", "p90_hours")


def test_a_span_across_the_clock_change_counts_the_hours_that_passed(org):
    # 00:30 to 23:30 on the day the clocks go back in New York: 24 hours, not 23.
    incident(org, reported_at=local("2026-11-01 00:30"), fixed_at=local("2026-11-01 23:30"))

    chart = _chart(org, "from=2026-11-01&to=2026-11-30", "response_times")

    assert [(row["measure"], row["median_hours"]) for row in chart.rows] == [
        ("Time to identify", None), ("Time to fix", 24.0), ("Duration", None),
    ]


def test_an_org_without_incidents_gets_empty_charts_that_say_what_would_fill_them(org, globex):
    incident(globex, **_reported("2026-11-10 09:00", identified=1))

    panel = response.panel(org, filters_for(org, "range=90d"), now=NOW)

    for chart in panel.charts:
        assert chart.rows == []
        assert "No incident" in chart.empty_text and "appear here" in chart.empty_text


def test_response_times_are_empty_while_no_incident_reached_a_milestone(org):
    incident(org, reported_at=local("2026-11-10 09:00"))

    panel = response.panel(org, filters_for(org, "from=2026-11-01&to=2026-11-30"), now=NOW)

    assert [row["incidents"] for row in panel.chart("declared_per_week").rows] == [0, 0, 1, 0, 0, 0]
    assert panel.chart("response_times").rows == []


@pytest.mark.parametrize("incidents", [3, 30])
def test_the_panel_runs_one_query_per_chart_however_many_incidents(org, incidents, django_assert_num_queries):
    for n in range(incidents):
        incident(org, **_reported(f"2026-11-{1 + n % 28:02d} 09:00", identified=n % 5, fixed=n % 7, resolved=n),
                 severity_name=("Minor", "Major", "Critical", None)[n % 4])
    filters = filters_for(org, "from=2026-09-01&to=2026-11-30")

    with django_assert_num_queries(2):
        panel = response.panel(org, filters, now=NOW)

    assert sum(row["incidents"] for row in panel.chart("declared_per_week").rows) == incidents
