"""The Follow-ups panel: the work incidents led to, made and done
(docs/insights.md, "Follow-ups").

Each chart is one SQL statement over the org's follow-ups of the incidents
in scope (``scoped_incident_ids_sql``), so the query count does not depend on the data.
Months are the org's (``date_trunc`` on the local time). The tables as the
statements see them: ``f`` a follow-up.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from incidentio.incidents.models import FollowUp, FollowUpPriority, FollowUpStatus
from insights.charts import Chart, ChartKind, Column, Panel, Unit, incidents_link
from insights.filters import InsightFilters
from insights.panels._sql import MONTH, bucket_period, fetch_all, org_rows_in_scope_sql, period_months
from orgs.calendar import Period

_FOLLOW_UP = FollowUp._meta.db_table

#: Series of "Follow-ups per month": key → (label, the drill-down parameter of its month).
COUNTED = {"created": ("Created", "follow_up_created"), "completed": ("Completed", "follow_up_completed")}
#: Age buckets of open follow-ups, youngest first: drill-down value → (label, oldest age in whole days or None).
AGES = {"0-30": ("0–30 days", 30), "31-90": ("31–90 days", 90), "91-": ("Over 90 days", None)}
#: Most pressing first, as the org sees priorities.
PRIORITIES = [FollowUpPriority.URGENT, FollowUpPriority.HIGH, FollowUpPriority.MEDIUM, FollowUpPriority.LOW]
#: "Done on time": drill-down value → label.
ON_TIME = {"yes": "On time", "no": "Late"}

#: The org's follow-ups of the incidents in scope; ``{scope}`` is ``org_rows_in_scope_sql`` on ``f``.
_SCOPED = f"""FROM {_FOLLOW_UP} f WHERE {{scope}}"""

# Each series counts in the range by its own timestamp, each read from its
# own index (follow_up_org_created_idx, follow_up_org_completed_idx).
_PER_MONTH_SQL = f"""
    SELECT 'created', date_trunc('month', f.created_at AT TIME ZONE %s)::date AS month, count(*)
    {_SCOPED} AND f.created_at >= %s AND f.created_at < %s
    GROUP BY month
    UNION ALL
    SELECT 'completed', date_trunc('month', f.completed_at AT TIME ZONE %s)::date AS month, count(*)
    {_SCOPED} AND f.status = '{FollowUpStatus.COMPLETED}' AND f.completed_at >= %s AND f.completed_at < %s
    GROUP BY month"""

# Age in whole days ≤ 30 means less than 31 × 24 hours old, i.e. created after
# ``now − 31 days`` (exact days, so a daylight-saving change moves nothing).
_BY_AGE_SQL = f"""
    SELECT CASE WHEN f.created_at > %s THEN '0-30' WHEN f.created_at > %s THEN '31-90' ELSE '91-' END AS age,
           f.priority, count(*)
    {_SCOPED} AND f.status = '{FollowUpStatus.OUTSTANDING}'
    GROUP BY age, f.priority"""

_ON_TIME_SQL = f"""
    SELECT date_trunc('month', f.completed_at AT TIME ZONE %s)::date AS month,
           CASE WHEN f.completed_at <= f.due_at THEN 'yes' ELSE 'no' END AS on_time, count(*)
    {_SCOPED} AND f.status = '{FollowUpStatus.COMPLETED}' AND f.due_at IS NOT NULL
      AND f.completed_at >= %s AND f.completed_at < %s
    GROUP BY month, on_time"""


def _months(period: Period) -> list[tuple[date, Period]]:
    """Each local month the range touches, as (its first day, the part of it in
    the range): a bar's link shows the days it counts."""
    return [(first, bucket_period(period, first, MONTH)) for first in period_months(period)]


def _follow_ups_per_month(org, filters: InsightFilters) -> Chart:
    scope, scope_params = org_rows_in_scope_sql(org, filters, "f")
    sql = _PER_MONTH_SQL.format(scope=scope)
    tz, start, end = filters.tz.key, filters.period.start, filters.period.end
    found = fetch_all(sql, [tz, *scope_params, start, end, tz, *scope_params, start, end])
    counts = {(series, month): n for series, month, n in found}
    rows = [
        {"month": f"{first:%Y-%m}", "series": label, "follow_ups": counts.get((series, first), 0),
         "link": incidents_link(org, filters, [(param, days.text)])}
        for first, days in _months(filters.period) for series, (label, param) in COUNTED.items()
    ] if counts else []
    return Chart(
        id="follow_ups_per_month", title="Follow-ups per month",
        description="Follow-ups of the incidents in scope created in each month, and those completed in each "
                    "month, each counted by its own date.",
        kind=ChartKind.GROUPED,
        columns=[Column("month", "Month", Unit.DATE), Column("series", "Counted", Unit.TEXT),
                 Column("follow_ups", "Follow-ups")],
        x="month", y="follow_ups", series="series", rows=rows,
        empty_text="No follow-up was created or completed in this range. Follow-ups added to incidents, and "
                   "completed, are counted here by month.",
    )


def _open_follow_ups_by_age(org, filters: InsightFilters, now: datetime) -> Chart:
    scope, scope_params = org_rows_in_scope_sql(org, filters, "f")
    young, middle = (now - timedelta(days=AGES[key][1] + 1) for key in ("0-30", "31-90"))
    found = fetch_all(_BY_AGE_SQL.format(scope=scope), [young, middle, *scope_params])
    counts = {(age, priority): n for age, priority, n in found}
    rows = [
        {"age": age_label, "priority": priority.label, "follow_ups": counts.get((age, priority.value), 0),
         "link": incidents_link(org, filters, [("follow_up_open_age", age),
                                               ("follow_up_priority", priority.value)])}
        for age, (age_label, _oldest) in AGES.items() for priority in PRIORITIES
    ] if counts else []
    return Chart(
        id="open_follow_ups_by_age", title="Open follow-ups by age",
        description="Right now, whatever the date range: outstanding follow-ups of the incidents in scope, by "
                    "whole days since they were created and by priority.",
        kind=ChartKind.STACKED,
        columns=[Column("age", "Age", Unit.TEXT), Column("priority", "Priority", Unit.TEXT),
                 Column("follow_ups", "Follow-ups")],
        x="age", y="follow_ups", series="priority", rows=rows,
        empty_text="No follow-up is open right now. Outstanding follow-ups are counted here by how long "
                   "they have been open.",
    )


def _follow_ups_on_time(org, filters: InsightFilters) -> Chart:
    scope, scope_params = org_rows_in_scope_sql(org, filters, "f")
    found = fetch_all(_ON_TIME_SQL.format(scope=scope),
                  [filters.tz.key, *scope_params, filters.period.start, filters.period.end])
    counts = {(month, on_time): n for month, on_time, n in found}
    rows = []
    for first, days in (_months(filters.period) if counts else []):
        total = sum(counts.get((first, key), 0) for key in ON_TIME)
        for key, label in ON_TIME.items():
            n = counts.get((first, key), 0)
            rows.append({
                "month": f"{first:%Y-%m}", "outcome": label, "follow_ups": n,
                "share_percent": round(100 * n / total, 1) if total else 0.0,
                "link": incidents_link(org, filters, [("follow_up_completed", days.text),
                                                      ("follow_up_on_time", key)]),
            })
    return Chart(
        id="follow_ups_on_time", title="Follow-ups done on time",
        description="Follow-ups of the incidents in scope completed in each month that had a due date: done by "
                    "it, or late.",
        kind=ChartKind.STACKED,
        columns=[Column("month", "Month", Unit.DATE), Column("outcome", "Outcome", Unit.TEXT),
                 Column("follow_ups", "Follow-ups"), Column("share_percent", "Share", Unit.PERCENT)],
        x="month", y="follow_ups", series="outcome", rows=rows,
        empty_text="No follow-up with a due date was completed in this range. Follow-ups get a due date from "
                   "their priority's due rule or from a person; completing them is counted here.",
    )


def panel(org, filters: InsightFilters, *, now: datetime) -> Panel:
    """The Follow-ups panel: created and completed per month and done on time
    (over the range), and the open ones by age (a snapshot at ``now``)."""
    return Panel(slug="follow_ups", title="Follow-ups", charts=[
        _follow_ups_per_month(org, filters),
        _open_follow_ups_by_age(org, filters, now),
        _follow_ups_on_time(org, filters),
    ])
