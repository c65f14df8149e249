"""The Learning flow panel: what happened after incidents were closed, over
the incidents in scope CLOSED in the range (a status of the Closed category,
``closed_at`` in the range). Each chart is one query; docs/insights.md
defines them."""

from __future__ import annotations

from incidentio.incidents.models import Incident, IncidentStatus, LearningFlowState, StatusCategory
from insights.charts import Chart, ChartKind, Column, Panel, Unit, incidents_link
from insights.filters import incident_scope_sql
from insights.panels._sql import (
    MONTH,
    bucket_period,
    fetch_all,
    in_period_sql,
    local_trunc_sql,
    number,
    percentiles_sql,
    period_months,
    span_sql,
)
from learning.models import LearningStatusVisit

_INCIDENT, _STATUS, _VISIT = Incident._meta.db_table, IncidentStatus._meta.db_table, LearningStatusVisit._meta.db_table

#: The outcomes of closing, in the chart's order: (learning_flow state, label).
OUTCOMES = [
    (LearningFlowState.COMPLETED, "Ran the flow"),
    (LearningFlowState.OPTED_OUT, "Opted out"),
    (LearningFlowState.NOT_ENTERED, "Closed without the flow"),
]
#: The most opt-out reasons the chart shows.
TOP_REASONS = 10
#: Shown for an opt-out stored without a reason (the product asks for one; older rows may lack it).
NO_REASON = "No reason given"


def panel(org, filters, *, now) -> Panel:
    return Panel(slug="learning", title="Learning flow", charts=[
        flow_outcomes(org, filters),
        opt_out_reasons(org, filters),
        resolved_to_closed(org, filters),
        time_in_status(org, filters),
    ])


def _closed_in_range_sql(org, filters) -> tuple[str, list]:
    """Conditions on the incident ``i``: in scope, in a Closed status now, ``closed_at`` in the range."""
    scope, params = incident_scope_sql(org, filters, "i")
    in_range, range_params = in_period_sql("i.closed_at", filters.period)
    # EXISTS, not "status_id IN (…)": Postgres would turn the IN into a join
    # that reads every closed incident of the org by status (87,000 on the bench
    # org) instead of the range's by closed_at (5,300 in 90 days, 8 ms against 22).
    closed = f"EXISTS (SELECT 1 FROM {_STATUS} c WHERE c.id = i.status_id AND c.category = %s)"
    return f"{scope} AND {in_range} AND {closed}", [*params, *range_params, str(StatusCategory.CLOSED)]


def flow_outcomes(org, filters) -> Chart:
    """Per local month of ``closed_at``: how many incidents ran the flow, opted out or skipped it."""
    closed, params = _closed_in_range_sql(org, filters)
    counted = fetch_all(
        f"""
        SELECT month, outcome, n, round(100.0 * n / sum(n) OVER (PARTITION BY month), 1)
        FROM (
            SELECT {local_trunc_sql("i.closed_at", MONTH)} AS month, i.learning_flow AS outcome, count(*) AS n
            FROM {_INCIDENT} i
            WHERE {closed} AND i.learning_flow = ANY(%s)
            GROUP BY 1, 2
        ) per_outcome
        """,
        [filters.tz.key, *params, [str(state) for state, _label in OUTCOMES]],
    )
    chart = Chart(
        id="flow_outcomes",
        title="Learning flow outcomes",
        description="Incidents closed in each month, by whether they ran the learning flow, opted out or skipped it.",
        kind=ChartKind.STACKED,
        columns=[Column("month", "Month", Unit.DATE), Column("outcome", "Outcome", Unit.TEXT),
                 Column("incidents", "Incidents"), Column("share_percent", "Share of the month", Unit.PERCENT)],
        x="month", y="incidents", series="outcome",
        empty_text=(
            "No incident was closed in this range. Closed incidents appear here by whether they ran the "
            "learning flow, opted out or were closed without it."
        ),
    )
    if not counted:
        return chart
    by_bucket = {(month, outcome): (n, share) for month, outcome, n, share in counted}
    months_closed = {month for month, *_rest in counted}
    for first in period_months(filters.period):
        month_text = bucket_period(filters.period, first, MONTH).text
        for state, label in OUTCOMES:
            n, share = by_bucket.get((first, str(state)), (0, None))
            chart.rows.append({
                "month": f"{first:%Y-%m}", "outcome": label, "incidents": n,
                # A month nobody closed an incident in has no shares to give.
                "share_percent": number(share) if share is not None else (0.0 if first in months_closed else None),
                "link": incidents_link(org, filters, [("closed", month_text), ("learning_flow", str(state))]),
            })
    return chart


def opt_out_reasons(org, filters) -> Chart:
    """The most given opt-out reasons, with every incident that gave each."""
    closed, params = _closed_in_range_sql(org, filters)
    reasons = fetch_all(
        f"""
        SELECT btrim(i.opt_out_reason, E' \\t\\r\\n') AS reason, count(*),
               string_agg('INC-' || i.number, ', ' ORDER BY i.closed_at DESC, i.number DESC)
        FROM {_INCIDENT} i
        WHERE {closed} AND i.learning_flow = %s
        GROUP BY 1
        ORDER BY 2 DESC, max(i.closed_at) DESC, 1
        LIMIT {TOP_REASONS}
        """,
        [*params, str(LearningFlowState.OPTED_OUT)],
    )
    chart = Chart(
        id="opt_out_reasons",
        title="Why the learning flow was skipped",
        description=(
            f"The {TOP_REASONS} reasons given most often for opting out of the learning flow, over the incidents "
            "closed in the range, with their references (newest first)."
        ),
        kind=ChartKind.HORIZONTAL,
        columns=[Column("reason", "Reason", Unit.TEXT), Column("incidents", "Incidents"),
                 Column("references", "References", Unit.TEXT)],
        x="reason", y="incidents",
        empty_text=(
            "No incident closed in this range opted out of the learning flow. The reasons people give when "
            "they opt out appear here."
        ),
    )
    range_text = filters.period.text
    for reason, n, references in reasons:
        chart.rows.append({
            "reason": reason or NO_REASON, "incidents": n, "references": references,
            "link": incidents_link(org, filters, [("closed", range_text), ("opt_out_reason", reason)]),
        })
    return chart


def resolved_to_closed(org, filters) -> Chart:
    """Per local month of ``closed_at``: how long the incidents that ran the flow took from resolved to closed."""
    closed, params = _closed_in_range_sql(org, filters)
    measured = fetch_all(
        f"""
        SELECT {local_trunc_sql("i.closed_at", MONTH)}, count(*), {percentiles_sql("m.span")}
        FROM {_INCIDENT} i CROSS JOIN LATERAL (SELECT {span_sql("i.resolved_at", "i.closed_at")} AS span) m
        WHERE {closed} AND i.learning_flow = %s AND m.span IS NOT NULL
        GROUP BY 1
        """,
        [filters.tz.key, *params, str(LearningFlowState.COMPLETED)],
    )
    chart = Chart(
        id="resolved_to_closed",
        title="Time in the learning flow",
        description=(
            "Per month an incident was closed in: the median hours (bar) and 90th percentile (tick) from "
            "resolved to closed, over the incidents that ran the learning flow to the end."
        ),
        kind=ChartKind.GROUPED,
        columns=[Column("month", "Month", Unit.DATE), Column("incidents", "Incidents"),
                 Column("median_hours", "Median (hours)", Unit.HOURS),
                 Column("p90_hours", "90th percentile (hours)", Unit.HOURS)],
        x="month", y="median_hours", marker="p90_hours",
        empty_text=(
            "No incident closed in this range ran the learning flow to the end. Incidents that complete the "
            "flow appear here, with the time from resolved to closed."
        ),
    )
    if not measured:
        return chart
    by_month = {month: (n, median, p90) for month, n, median, p90 in measured}
    for first in period_months(filters.period):
        n, median, p90 = by_month.get(first, (0, None, None))
        chart.rows.append({
            "month": f"{first:%Y-%m}", "incidents": n, "median_hours": number(median), "p90_hours": number(p90),
            "link": incidents_link(org, filters, [
                ("closed", bucket_period(filters.period, first, MONTH).text),
                ("learning_flow", str(LearningFlowState.COMPLETED)),
            ]),
        })
    return chart


def time_in_status(org, filters) -> Chart:
    """Per learning status: how long the visits of incidents closed in the range stayed in it."""
    closed, params = _closed_in_range_sql(org, filters)
    measured = fetch_all(
        f"""
        SELECT s.public_id, s.name, per_status.visits, per_status.median, per_status.p90
        FROM (
            SELECT v.status_id, count(*) AS visits, {percentiles_sql("m.span")}
            FROM {_VISIT} v
            JOIN {_INCIDENT} i ON i.id = v.incident_id
            CROSS JOIN LATERAL (SELECT {span_sql("v.entered_at", "v.left_at")} AS span) m
            WHERE {closed} AND m.span IS NOT NULL
            GROUP BY v.status_id
        ) per_status (status_id, visits, median, p90)
        JOIN {_STATUS} s ON s.id = per_status.status_id
        ORDER BY s.rank, s.id
        """,
        params,
    )
    chart = Chart(
        id="time_in_status",
        title="Time in each learning status",
        description=(
            "Per learning status: the median hours (bar) and 90th percentile (tick) incidents closed in the "
            "range spent in it, from entering the status to moving on."
        ),
        kind=ChartKind.HORIZONTAL,
        columns=[Column("status", "Status", Unit.TEXT), Column("visits", "Visits"),
                 Column("median_hours", "Median (hours)", Unit.HOURS),
                 Column("p90_hours", "90th percentile (hours)", Unit.HOURS)],
        x="status", y="median_hours", marker="p90_hours",
        empty_text=(
            "No incident closed in this range went through a learning status. Incidents that run the learning "
            "flow (or part of it before opting out) appear here, per status."
        ),
    )
    range_text = filters.period.text
    for public_id, name, visits, median, p90 in measured:
        chart.rows.append({
            "status": name, "visits": visits, "median_hours": number(median), "p90_hours": number(p90),
            "link": incidents_link(org, filters, [("closed", range_text), ("visited_status", str(public_id))]),
        })
    return chart
