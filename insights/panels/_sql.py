"""Small pieces the panels share to read a chart with one SQL query.

The conventions they keep (docs/insights.md):

- A week or a month is the org's, local: ``local_trunc_sql`` buckets a
  timestamp with ``date_trunc(... AT TIME ZONE <org's zone>)::date`` (a week's
  Monday, a month's first day), and ``period_weeks`` / ``period_months`` list
  the same buckets for a period in Python, so a time series can show every
  one of them, zeros included.
- A range applies to one timestamp per chart: ``in_period_sql``.
- Hours are rounded to one decimal in SQL (``hours_sql``: Postgres ``round``
  of a numeric, halves away from zero), so a percentile's interval is
  converted exactly, never through a binary float first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from django.db import connection

from insights.filters import scoped_incident_ids_sql
from orgs.calendar import Period

#: Postgres' name for each bucket: the ``date_trunc`` field.
WEEK, MONTH = "week", "month"


def org_rows_in_scope_sql(org, filters, alias: str) -> tuple[str, list]:
    """Conditions keeping the rows of the table under ``alias`` (learning tasks,
    follow-ups: tables that carry both ``org_id`` and ``incident_id``) that are
    the org's and belong to an incident in scope (``scoped_incident_ids_sql``)."""
    scope, params = scoped_incident_ids_sql(org, filters, f"{alias}.incident_id")
    return f"{alias}.org_id = %s AND {scope}", [org.pk, *params]


def fetch_all(sql: str, params: list) -> list[tuple]:
    """Run one read query and return its rows as tuples."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def local_trunc_sql(column: str, unit: str) -> str:
    """SQL for the local date starting ``column``'s week (Monday) or month; takes
    one parameter, the org's time zone name (``filters.tz.key``)."""
    if unit not in (WEEK, MONTH):
        raise ValueError(f"unknown bucket {unit!r}")
    return f"date_trunc('{unit}', {column} AT TIME ZONE %s)::date"


def in_period_sql(column: str, period: Period) -> tuple[str, list]:
    """``column`` falls in the period's local days: from the midnight starting
    its first day, up to (not including) the midnight after its last."""
    return f"{column} >= %s AND {column} < %s", [period.start, period.end]


def hours_sql(interval_sql: str) -> str:
    """SQL for an interval in hours, rounded to one decimal (a numeric; NULL stays NULL)."""
    return f"round((extract(epoch FROM {interval_sql}) / 3600)::numeric, 1)"


def percentiles_sql(span_sql: str) -> str:
    """Two columns: the median and the 90th percentile of the interval
    ``span_sql`` over a group, in hours (``percentile_cont``: linear
    interpolation between the two nearest values)."""
    return ", ".join(
        hours_sql(f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {span_sql})") for fraction in (0.5, 0.9)
    )


def span_sql(start: str, end: str) -> str:
    """The interval from ``start`` to ``end`` when both are set and ``end`` is
    not before ``start``, else NULL, which ``count`` and ``percentile_cont``
    skip (as ``Incident._span`` does)."""
    return f"CASE WHEN {end} >= {start} THEN {end} - {start} END"


def number(value) -> float | None:
    """A rounded numeric from SQL (a Decimal) as the float a row holds; None stays None."""
    return None if value is None else float(value)


def period_weeks(period: Period) -> list[date]:
    """The Mondays of every week the period touches, in order."""
    monday = period.first - timedelta(days=period.first.weekday())
    weeks = []
    while monday <= period.last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def period_months(period: Period) -> list[date]:
    """The first days of every month the period touches, in order."""
    month = period.first.replace(day=1)
    months = []
    while month <= period.last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def bucket_period(period: Period, first: date, unit: str) -> Period:
    """The part of ``period`` in the week or month starting ``first``: the
    whole week or month (its text "2026-W45", "2026-11") unless the period
    starts or ends inside it ("2026-11-04..2026-11-08"). A drill-down link
    then lists exactly the incidents the bar counts."""
    if unit == WEEK:
        last = first + timedelta(days=6)
    elif unit == MONTH:
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        raise ValueError(f"unknown bucket {unit!r}")
    return replace(period, first=max(first, period.first), last=min(last, period.last))
