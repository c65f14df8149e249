"""The Learning flow panel (docs/insights.md): over the incidents in scope
closed in the range, per month of closing in the org's time zone, whether
they ran the flow, why they opted out, and how long the flow and each of its
statuses took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from incidentio.incidents.models import IncidentType, LearningFlowState
from insights.filters import COUNTED_CATEGORIES
from insights.panels import learning
from learning.models import LearningStatusVisit
from tests.insights.incident_rows import filters_for, incident, local, status

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COMPLETED, OPTED_OUT, NOT_ENTERED = LearningFlowState.COMPLETED, LearningFlowState.OPTED_OUT, LearningFlowState.NOT_ENTERED
RANGE = "from=2026-10-01&to=2026-11-30"


def _link(*params, page=()) -> str:
    """The incidents list behind a bar: its own filters, the counted categories, the page's filters."""
    return "/acme/incidents/?" + urlencode([*params, *[("category", c) for c in COUNTED_CATEGORIES], *page])


def _closed(org, closed: str, learning_flow=COMPLETED, *, resolved: str | None = None, status_name="Closed",
            **fields):
    """An incident closed at the local time ``closed`` (reported a week before)."""
    closed_at = local(closed)
    return incident(org, reported_at=closed_at - timedelta(days=7), status_name=status_name,
                    learning_flow=learning_flow, closed_at=closed_at,
                    resolved_at=local(resolved) if resolved else None, **fields)


def _visit(incident, status_name, entered: str, left: str | None):
    LearningStatusVisit.objects.create(incident=incident, status=status(incident.org, status_name),
                                       entered_at=local(entered), left_at=local(left) if left else None)


@pytest.fixture
def closed_incidents(org, globex):
    """Acme's incidents closed in Oct and Nov 2026 (New York), and some that do not count.

    October: three ran the flow (INC-1, INC-2, INC-3). November: one ran the flow
    (INC-4), four opted out (INC-5 … INC-8), one closed without it (INC-9)."""
    first = _closed(org, "2026-10-05 10:00", resolved="2026-10-03 10:00")  # 48 hours in the flow
    _visit(first, "Documenting", "2026-10-03 10:00", "2026-10-04 10:00")
    _visit(first, "Reviewing", "2026-10-04 10:00", "2026-10-05 10:00")
    # Closed at 23:59 on 31 Oct in New York, 1 Nov in UTC: an October close, 12 hours after resolving.
    second = _closed(org, "2026-10-31 23:59", resolved="2026-10-31 11:59")
    _visit(second, "Documenting", "2026-10-31 11:59", "2026-10-31 17:59")
    _visit(second, "Reviewing", "2026-10-31 17:59", "2026-10-31 23:59")
    _closed(org, "2026-10-20 10:00")  # no resolved_at (older data): an outcome, not a duration
    fourth = _closed(org, "2026-11-12 10:00", resolved="2026-11-13 10:00")  # closed before resolved: skipped
    _visit(fourth, "Reviewing", "2026-11-12 09:00", None)  # never left: skipped
    # Opted out while in Documenting, over the night the clocks went back: 25 hours there.
    opted_out = _closed(org, "2026-11-02 09:00", OPTED_OUT, opt_out_reason="Customer-facing fix only")
    _visit(opted_out, "Documenting", "2026-11-01 00:30", "2026-11-02 00:30")
    _closed(org, "2026-11-05 09:00", OPTED_OUT, opt_out_reason="  Customer-facing fix only\n")
    _closed(org, "2026-11-20 09:00", OPTED_OUT, opt_out_reason="Duplicate of a known issue")
    _closed(org, "2026-11-10 09:00", OPTED_OUT, opt_out_reason="Test alert")
    _closed(org, "2026-11-03 09:00", NOT_ENTERED)

    # Not counted: closed just before the range (1 Oct in UTC), still running (a visit not left),
    # declined, merged, canceled, reopened after closing, and another org's.
    _closed(org, "2026-09-30 23:59", OPTED_OUT, opt_out_reason="Before the range")
    running = _closed(org, "2026-11-15 10:00", LearningFlowState.RUNNING, status_name="Reviewing")
    _visit(running, "Documenting", "2026-11-14 10:00", "2026-11-15 10:00")
    for name in ("Declined", "Merged", "Canceled", "Investigating"):
        gone = _closed(org, "2026-11-15 10:00", OPTED_OUT, status_name=name, opt_out_reason="Not an incident",
                       resolved="2026-11-15 09:00")
        _visit(gone, "Documenting", "2026-11-14 10:00", "2026-11-15 10:00")
    other = _closed(globex, "2026-11-15 10:00", opt_out_reason="Another org", resolved="2026-11-15 09:00")
    _visit(other, "Documenting", "2026-11-14 10:00", "2026-11-15 10:00")


def _chart(org, query, chart_id):
    return learning.panel(org, filters_for(org, query), now=NOW).chart(chart_id)


def test_the_panel_is_learning_flow_with_its_four_charts(org):
    panel = learning.panel(org, filters_for(org, ""), now=NOW)
    assert (panel.slug, panel.title) == ("learning", "Learning flow")
    assert [chart.id for chart in panel.charts] == [
        "flow_outcomes", "opt_out_reasons", "resolved_to_closed", "time_in_status"]


def test_flow_outcomes_count_each_local_month_of_closing_with_its_share(org, closed_incidents):
    chart = _chart(org, RANGE, "flow_outcomes")

    def row(month, outcome, incidents, share, state):
        return {"month": month, "outcome": outcome, "incidents": incidents, "share_percent": share,
                "link": _link(("closed", month), ("learning_flow", state))}

    assert chart.rows == [
        row("2026-10", "Ran the flow", 3, 100.0, "completed"),
        row("2026-10", "Opted out", 0, 0.0, "opted_out"),
        row("2026-10", "Closed without the flow", 0, 0.0, "not_entered"),
        # 1, 4 and 1 of 6: 16.7 %, 66.7 %, 16.7 %.
        row("2026-11", "Ran the flow", 1, 16.7, "completed"),
        row("2026-11", "Opted out", 4, 66.7, "opted_out"),
        row("2026-11", "Closed without the flow", 1, 16.7, "not_entered"),
    ]
    assert (chart.x, chart.y, chart.series, str(chart.kind)) == ("month", "incidents", "outcome", "stacked")


def test_a_month_nobody_closed_an_incident_in_has_zeros_and_no_shares(org, closed_incidents):
    chart = _chart(org, "from=2026-08-01&to=2026-10-31", "flow_outcomes")

    assert [(r["month"], r["outcome"], r["incidents"], r["share_percent"]) for r in chart.rows] == [
        ("2026-08", "Ran the flow", 0, None),
        ("2026-08", "Opted out", 0, None),
        ("2026-08", "Closed without the flow", 0, None),
        ("2026-09", "Ran the flow", 0, 0.0),
        ("2026-09", "Opted out", 1, 100.0),  # 23:59 on 30 Sep in New York
        ("2026-09", "Closed without the flow", 0, 0.0),
        ("2026-10", "Ran the flow", 3, 100.0),
        ("2026-10", "Opted out", 0, 0.0),
        ("2026-10", "Closed without the flow", 0, 0.0),
    ]


def test_a_range_nobody_closed_an_incident_in_is_empty(org, closed_incidents):
    assert _chart(org, "from=2026-08-01&to=2026-08-31", "flow_outcomes").rows == []


def test_opt_out_reasons_are_trimmed_counted_and_list_their_incidents_newest_first(org, closed_incidents):
    chart = _chart(org, RANGE, "opt_out_reasons")

    def row(reason, incidents, references):
        return {"reason": reason, "incidents": incidents, "references": references,
                "link": _link(("closed", "2026-10-01..2026-11-30"), ("opt_out_reason", reason))}

    assert chart.rows == [
        row("Customer-facing fix only", 2, "INC-6, INC-5"),
        # One each: the one closed last first.
        row("Duplicate of a known issue", 1, "INC-7"),
        row("Test alert", 1, "INC-8"),
    ]
    assert (chart.x, chart.y, str(chart.kind)) == ("reason", "incidents", "horizontal")


def test_opt_out_reasons_keep_the_ten_given_most_often(org):
    for n in range(11):  # reason 0 closed first … reason 10 last
        _closed(org, f"2026-11-{n + 1:02d} 09:00", OPTED_OUT, opt_out_reason=f"Reason {n}")
    _closed(org, "2026-11-20 09:00", OPTED_OUT, opt_out_reason="Reason 0")

    chart = _chart(org, "from=2026-11-01&to=2026-11-30", "opt_out_reasons")

    # Reason 0 twice first; then, of the ten given once, the nine closed latest.
    assert [(row["reason"], row["incidents"]) for row in chart.rows] == [
        ("Reason 0", 2), *((f"Reason {n}", 1) for n in range(10, 1, -1))]
    assert chart.rows[0]["references"] == "INC-12, INC-1"
    assert chart.rows[0]["link"] == _link(("closed", "2026-11"), ("opt_out_reason", "Reason 0"))


def test_resolved_to_closed_is_over_the_incidents_that_ran_the_flow(org, closed_incidents):
    chart = _chart(org, RANGE, "resolved_to_closed")

    assert chart.rows == [
        # 12 and 48 hours: median 30, p90 12 + 0.9 × 36.
        {"month": "2026-10", "incidents": 2, "median_hours": 30.0, "p90_hours": 44.4,
         "link": _link(("closed", "2026-10"), ("learning_flow", "completed"))},
        # INC-4 was closed before it was resolved: no span to count.
        {"month": "2026-11", "incidents": 0, "median_hours": None, "p90_hours": None,
         "link": _link(("closed", "2026-11"), ("learning_flow", "completed"))},
    ]
    assert (chart.x, chart.y, chart.series, chart.marker) == ("month", "median_hours", None, "p90_hours")


def test_time_in_status_is_per_learning_status_in_rank_order(org, closed_incidents):
    chart = _chart(org, RANGE, "time_in_status")

    def link(name):
        return _link(("closed", "2026-10-01..2026-11-30"), ("visited_status", str(status(org, name).public_id)))

    assert chart.rows == [
        # 6, 24 and 25 hours (the last over the clock change).
        {"status": "Documenting", "visits": 3, "median_hours": 24.0, "p90_hours": 24.8, "link": link("Documenting")},
        # 6 and 24 hours; INC-4's visit never ended.
        {"status": "Reviewing", "visits": 2, "median_hours": 15.0, "p90_hours": 22.2, "link": link("Reviewing")},
    ]
    assert (chart.x, chart.y, chart.marker) == ("status", "median_hours", "p90_hours")


def test_the_status_order_is_the_orgs(org, closed_incidents):
    documenting, reviewing = status(org, "Documenting"), status(org, "Reviewing")
    documenting.rank, reviewing.rank = reviewing.rank, documenting.rank
    documenting.save(update_fields=["rank"])
    reviewing.save(update_fields=["rank"])

    chart = _chart(org, RANGE, "time_in_status")

    assert [row["status"] for row in chart.rows] == ["Reviewing", "Documenting"]


def test_type_filter_narrows_every_chart_and_goes_into_the_links(org, closed_incidents):
    security = IncidentType.objects.create(org=org, name="Security", rank=1)
    leak = _closed(org, "2026-11-25 09:00", OPTED_OUT, opt_out_reason="Handled by the security team",
                   incident_type=security, resolved="2026-11-25 08:00")
    _visit(leak, "Documenting", "2026-11-24 09:00", "2026-11-25 09:00")
    kept = ("incident_type", str(security.public_id))

    panel = learning.panel(org, filters_for(org, f"{RANGE}&incident_type={security.public_id}"), now=NOW)

    assert [(r["month"], r["outcome"], r["incidents"], r["link"]) for r in panel.chart("flow_outcomes").rows
            if r["incidents"]] == [
        ("2026-11", "Opted out", 1, _link(("closed", "2026-11"), ("learning_flow", "opted_out"), page=[kept]))]
    assert panel.chart("opt_out_reasons").rows == [
        {"reason": "Handled by the security team", "incidents": 1, "references": leak.reference,
         "link": _link(("closed", "2026-10-01..2026-11-30"), ("opt_out_reason", "Handled by the security team"),
                       page=[kept])}]
    assert panel.chart("resolved_to_closed").rows == []
    assert [(r["status"], r["visits"], r["median_hours"]) for r in panel.chart("time_in_status").rows] == [
        ("Documenting", 1, 24.0)]


def test_severity_filter_narrows_the_incidents(org, closed_incidents):
    major = _closed(org, "2026-11-25 09:00", severity_name="Major", resolved="2026-11-25 07:00")
    major_id = major.severity.public_id

    chart = _chart(org, f"{RANGE}&severity={major_id}", "resolved_to_closed")

    assert [(r["month"], r["incidents"], r["median_hours"], r["link"]) for r in chart.rows] == [
        ("2026-10", 0, None, _link(("closed", "2026-10"), ("learning_flow", "completed"), page=[("severity", str(major_id))])),
        ("2026-11", 1, 2.0, _link(("closed", "2026-11"), ("learning_flow", "completed"), page=[("severity", str(major_id))])),
    ]


def test_an_org_without_closed_incidents_gets_empty_charts_that_say_what_would_fill_them(org, globex):
    other = _closed(globex, "2026-11-15 10:00", OPTED_OUT, opt_out_reason="Another org", resolved="2026-11-15 09:00")
    _visit(other, "Documenting", "2026-11-14 10:00", "2026-11-15 10:00")
    _closed(org, "2026-11-15 10:00", LearningFlowState.RUNNING, status_name="Documenting")

    panel = learning.panel(org, filters_for(org, "range=90d"), now=NOW)

    for chart in panel.charts:
        assert chart.rows == []
        assert "No incident closed in this range" in chart.empty_text or "No incident was closed" in chart.empty_text
        assert "appear here" in chart.empty_text


@pytest.mark.parametrize("incidents", [3, 30])
def test_the_panel_runs_one_query_per_chart_however_many_incidents(org, incidents, django_assert_num_queries):
    outcomes = (COMPLETED, OPTED_OUT, NOT_ENTERED)
    for n in range(incidents):
        closed = _closed(org, f"2026-11-{1 + n % 28:02d} 18:00", outcomes[n % 3], resolved="2026-10-01 09:00",
                         opt_out_reason=f"Reason {n % 4}" if outcomes[n % 3] == OPTED_OUT else "")
        _visit(closed, "Documenting", "2026-10-01 09:00", "2026-10-02 09:00")
    filters = filters_for(org, RANGE)

    with django_assert_num_queries(4):
        panel = learning.panel(org, filters, now=NOW)

    assert sum(row["incidents"] for row in panel.chart("flow_outcomes").rows) == incidents
    assert panel.chart("time_in_status").rows[0]["visits"] == incidents
