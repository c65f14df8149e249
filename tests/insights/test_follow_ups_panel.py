"""The Follow-ups panel (insights/panels/follow_ups.py): each chart's rows,
exactly, from follow-ups with known timestamps in an org on New York time
(docs/insights.md, "Follow-ups")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from incidentio.incidents.models import (
    FollowUp,
    FollowUpPriority,
    FollowUpStatus,
    Incident,
    IncidentType,
    Severity,
    StatusCategory,
)
from insights.filters import COUNTED_CATEGORIES, insight_filters_parse
from insights.panels import follow_ups
from tests.insights.incident_rows import incident_in_category as incident

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 15, 17, 0, tzinfo=UTC)
#: Mid-October to mid-December: three months, the first and last in part, across
#: the end of daylight-saving time (1 Nov 2026 in New York).
RANGE = "from=2026-10-15&to=2026-12-10"
LIST = "/acme/incidents/?"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def follow_up(of: Incident, created_at, status=FollowUpStatus.OUTSTANDING, **fields) -> FollowUp:
    return FollowUp.objects.create(incident=of, title="Add an alert", status=status, created_at=created_at, **fields)


def done(of: Incident, completed_at, **fields) -> FollowUp:
    return follow_up(of, local(2026, 1, 5), FollowUpStatus.COMPLETED, completed_at=completed_at, **fields)


def chart(org, chart_id, query=RANGE, now=NOW):
    chosen = insight_filters_parse(org, QueryDict(query), today=date(2026, 12, 15))
    return follow_ups.panel(org, chosen, now=now).chart(chart_id)


def link(*params) -> str:
    """The incidents list behind a bar: its own filters, the counted categories, then the page's type and severity."""
    own = [p for p in params if p[0] not in ("incident_type", "severity")]
    page = [p for p in params if p[0] in ("incident_type", "severity")]
    return LIST + urlencode([*own, *[("category", c) for c in COUNTED_CATEGORIES], *page])


# --- Follow-ups per month ------------------------------------------------------------------


def test_follow_ups_per_month_counts_each_by_its_own_date_in_local_months(org, globex):
    closed = incident(org)
    follow_up(closed, local(2026, 10, 15, 0, 0))  # the range's first minute
    follow_up(closed, local(2026, 10, 31, 23, 59))  # 1 Nov in UTC: still October here
    follow_up(closed, local(2026, 12, 10, 23, 59))  # the range's last minute
    follow_up(closed, local(2026, 10, 14, 23, 59))  # before the range
    follow_up(closed, local(2026, 12, 11, 0, 0))  # after it
    # Created long before, completed in the range: counted as completed only, in
    # November although it is 1 Dec in UTC (after the clocks went back).
    done(closed, local(2026, 11, 30, 23, 59))
    # Marked not doing (one with a completion time an admin's edit left behind), or
    # completed outside the range: not completed here.
    follow_up(closed, local(2026, 1, 5), FollowUpStatus.NOT_DOING)
    follow_up(closed, local(2026, 1, 5), FollowUpStatus.NOT_DOING, completed_at=local(2026, 11, 3))
    done(closed, local(2026, 12, 11, 0, 1))
    for category in (StatusCategory.DECLINED, StatusCategory.MERGED, StatusCategory.CANCELED):
        follow_up(incident(org, category), local(2026, 11, 2))
    follow_up(incident(globex), local(2026, 11, 2))

    rows = chart(org, "follow_ups_per_month").rows

    def row(month, series, n, days):
        return {"month": month, "series": series, "follow_ups": n,
                "link": link((f"follow_up_{series.lower()}", days))}

    # Every month of the range, the empty one too; a part month links to its days in the range.
    assert rows == [
        row("2026-10", "Created", 2, "2026-10-15..2026-10-31"),
        row("2026-10", "Completed", 0, "2026-10-15..2026-10-31"),
        row("2026-11", "Created", 0, "2026-11"),
        row("2026-11", "Completed", 1, "2026-11"),
        row("2026-12", "Created", 1, "2026-12-01..2026-12-10"),
        row("2026-12", "Completed", 0, "2026-12-01..2026-12-10"),
    ]


def test_follow_ups_per_month_keeps_the_type_and_severity_filters(org):
    security = IncidentType.objects.create(org=org, name="Security", rank=5)
    critical, minor = Severity.objects.filter(org=org).order_by("-rank")[:2]
    follow_up(incident(org, incident_type=security, severity=critical), local(2026, 11, 2))
    follow_up(incident(org, incident_type=security, severity=minor), local(2026, 11, 2))
    follow_up(incident(org, severity=critical), local(2026, 11, 2))

    rows = chart(org, "follow_ups_per_month",
                 f"from=2026-11-01&to=2026-11-30&incident_type={security.public_id}&severity={critical.public_id}"
                 ).rows

    scope = [("incident_type", str(security.public_id)), ("severity", str(critical.public_id))]
    assert rows == [
        {"month": "2026-11", "series": "Created", "follow_ups": 1,
         "link": link(("follow_up_created", "2026-11"), *scope)},
        {"month": "2026-11", "series": "Completed", "follow_ups": 0,
         "link": link(("follow_up_completed", "2026-11"), *scope)},
    ]


# --- Open follow-ups by age ----------------------------------------------------------------


def test_open_follow_ups_by_age_is_a_snapshot_now_in_whole_days(org, globex):
    closed, live = incident(org), incident(org, StatusCategory.LIVE)
    urgent, high, low = FollowUpPriority.URGENT, FollowUpPriority.HIGH, FollowUpPriority.LOW
    follow_up(closed, NOW, priority=urgent)  # created this moment: 0 days
    follow_up(live, NOW - timedelta(days=31, seconds=-1), priority=urgent)  # 30 days 23:59:59: still 30
    follow_up(closed, NOW - timedelta(days=31), priority=urgent)  # 31 days
    follow_up(closed, NOW - timedelta(days=91, seconds=-1), priority=high)  # 90 days
    follow_up(closed, NOW - timedelta(days=91), priority=low)  # 91 days
    follow_up(closed, local(2020, 1, 1), priority=low)
    follow_up(closed, NOW - timedelta(days=3), FollowUpStatus.COMPLETED, completed_at=NOW, priority=urgent)
    follow_up(closed, NOW - timedelta(days=3), FollowUpStatus.NOT_DOING, priority=urgent)
    follow_up(incident(org, StatusCategory.MERGED), NOW - timedelta(days=3), priority=urgent)
    follow_up(incident(globex), NOW - timedelta(days=3), priority=urgent)

    found = chart(org, "open_follow_ups_by_age")

    counts = {("0-30", "urgent"): 2, ("31-90", "urgent"): 1, ("31-90", "high"): 1, ("91-", "low"): 2}
    labels = {"0-30": "0–30 days", "31-90": "31–90 days", "91-": "Over 90 days"}
    assert found.rows == [
        {"age": labels[age], "priority": priority.title(), "follow_ups": counts.get((age, priority), 0),
         "link": link(("follow_up_open_age", age), ("follow_up_priority", priority))}
        for age in ("0-30", "31-90", "91-") for priority in ("urgent", "high", "medium", "low")
    ]
    assert "whatever the date range" in found.description
    # The range does not change it.
    assert chart(org, "open_follow_ups_by_age", "range=30d").rows == found.rows


# --- Follow-ups done on time ---------------------------------------------------------------


def test_on_time_compares_completion_with_the_due_date_per_local_month(org):
    closed = incident(org)
    due = local(2026, 11, 20, 17, 0)
    done(closed, due, due_at=due)  # at the very moment it was due: on time
    done(closed, due - timedelta(days=2), due_at=due)
    done(closed, due + timedelta(seconds=1), due_at=due)  # a second late
    done(closed, local(2026, 11, 30, 23, 59), due_at=due)  # late, and November here (1 Dec in UTC)
    done(closed, local(2026, 11, 5), due_at=None)  # no due date: neither
    done(closed, local(2026, 12, 3), due_at=local(2026, 12, 4))
    follow_up(closed, local(2026, 11, 1), due_at=local(2026, 11, 2))  # still open
    follow_up(closed, local(2026, 11, 1), FollowUpStatus.NOT_DOING, due_at=local(2026, 11, 2))
    done(incident(org, StatusCategory.CANCELED), local(2026, 11, 5), due_at=due)

    rows = chart(org, "follow_ups_on_time").rows

    def row(month, outcome, n, share, days, on_time):
        return {"month": month, "outcome": outcome, "follow_ups": n, "share_percent": share,
                "link": link(("follow_up_completed", days), ("follow_up_on_time", on_time))}

    assert rows == [
        row("2026-10", "On time", 0, 0.0, "2026-10-15..2026-10-31", "yes"),
        row("2026-10", "Late", 0, 0.0, "2026-10-15..2026-10-31", "no"),
        row("2026-11", "On time", 2, 50.0, "2026-11", "yes"),
        row("2026-11", "Late", 2, 50.0, "2026-11", "no"),
        row("2026-12", "On time", 1, 100.0, "2026-12-01..2026-12-10", "yes"),
        row("2026-12", "Late", 0, 0.0, "2026-12-01..2026-12-10", "no"),
    ]


def test_on_time_shares_are_rounded_to_one_decimal(org):
    closed = incident(org)
    due = local(2026, 11, 20)
    for late in (False, True, True):
        done(closed, due + timedelta(hours=1 if late else -1), due_at=due)

    rows = chart(org, "follow_ups_on_time", "from=2026-11-01&to=2026-11-30").rows

    assert [(r["outcome"], r["follow_ups"], r["share_percent"]) for r in rows] == [
        ("On time", 1, 33.3), ("Late", 2, 66.7)]


# --- The whole panel -----------------------------------------------------------------------


def test_an_org_without_follow_ups_gets_empty_charts_that_say_what_would_fill_them(org, globex):
    follow_up(incident(globex), local(2026, 11, 2))
    done(incident(globex), local(2026, 11, 3), due_at=local(2026, 11, 4))
    # A follow-up created and completed long before the range fills only the snapshot.
    done(incident(org), local(2026, 1, 6))

    found = follow_ups.panel(org, insight_filters_parse(org, QueryDict(RANGE), today=date(2026, 12, 15)), now=NOW)

    assert (found.slug, found.title) == ("follow_ups", "Follow-ups")
    assert [c.id for c in found.charts] == ["follow_ups_per_month", "open_follow_ups_by_age", "follow_ups_on_time"]
    for empty in found.charts:
        assert empty.rows == []
        assert empty.empty_text.startswith("No follow-up")


@pytest.mark.parametrize("size", [1, 40])
def test_the_panel_reads_one_statement_per_chart_whatever_the_data(org, size, django_assert_num_queries):
    for i in range(size):
        closed = incident(org)
        follow_up(closed, local(2026, 11, 1) + timedelta(days=i % 30), priority=FollowUpPriority.values[i % 4])
        done(closed, local(2026, 11, 20) + timedelta(hours=i), due_at=local(2026, 11, 21))
    chosen = insight_filters_parse(org, QueryDict(RANGE), today=date(2026, 12, 15))

    with django_assert_num_queries(3):
        found = follow_ups.panel(org, chosen, now=NOW)

    assert sum(r["follow_ups"] for r in found.chart("open_follow_ups_by_age").rows) == size
    assert sum(r["follow_ups"] for r in found.chart("follow_ups_on_time").rows) == size
