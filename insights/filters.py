"""What an Insights view covers: a range of local days and, optionally, some
incident types and severities. The page, the CSV downloads and the API read
the same filters with :func:`insight_filters_parse`.

Which incidents count at all (``incident_scope_sql``): the org's, except
those declined, merged or canceled — they were not incidents the org had to
respond to or learn from (docs/insights.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from incidentio.incidents.models import Incident, IncidentStatus, IncidentType, Severity, StatusCategory
from orgs.calendar import Period, PeriodError, period_parse

#: The range presets: parameter value → (days, label). The first is the default.
PRESETS = {"90d": (90, "Last 90 days"), "30d": (30, "Last 30 days"), "365d": (365, "Last 365 days")}
DEFAULT_PRESET = "90d"
#: The longest custom range, so a request cannot ask for a century of weeks.
MAX_RANGE_DAYS = 3 * 366
#: Statuses whose incidents no panel counts.
EXCLUDED_CATEGORIES = (StatusCategory.DECLINED, StatusCategory.MERGED, StatusCategory.CANCELED)
COUNTED_CATEGORIES = tuple(c for c in StatusCategory if c not in EXCLUDED_CATEGORIES)

_INCIDENT, _STATUS = Incident._meta.db_table, IncidentStatus._meta.db_table


class InsightFilterError(ValueError):
    """A filter the request got wrong: ``param`` names it, the message says what it takes."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class InsightFilters:
    #: The local days covered, in the org's time zone (``period.start``/``period.end`` in UTC).
    period: Period
    #: The preset chosen ("90d"), or "" for a custom range.
    preset: str
    incident_types: tuple[IncidentType, ...] = field(default=())
    severities: tuple[Severity, ...] = field(default=())

    @property
    def tz(self) -> ZoneInfo:
        return self.period.tz

    def link_params(self) -> list[tuple[str, str]]:
        """What every drill-down link adds to the incidents list: the categories
        the panels count (so the list leaves out declined, merged and canceled
        incidents as the bar did) and the type and severity filters."""
        return [("category", str(c)) for c in COUNTED_CATEGORIES] + self.choice_params()

    def choice_params(self) -> list[tuple[str, str]]:
        """The type and severity filters, as the page and the incidents list both name them."""
        return [("incident_type", str(t.public_id)) for t in self.incident_types] + [
            ("severity", str(s.public_id)) for s in self.severities
        ]

    def query_params(self) -> list[tuple[str, str]]:
        """These filters as the Insights page reads them back (for its CSV links)."""
        dates = [("range", self.preset)] if self.preset else [
            ("from", self.period.first.isoformat()), ("to", self.period.last.isoformat())]
        return dates + self.choice_params()


def incident_scope_sql(org, filters: InsightFilters, alias: str = "i") -> tuple[str, list]:
    """Conditions (joined with AND, no leading AND) on the incident table under
    ``alias`` that keep the incidents every panel counts: the org's, not
    declined, merged or canceled, of the chosen types and severities. The date
    range is not here: each chart says which timestamp it applies to."""
    conditions = [
        f"{alias}.org_id = %s",
        f"{alias}.status_id NOT IN (SELECT x.id FROM {_STATUS} x WHERE x.org_id = %s AND x.category = ANY(%s))",
    ]
    params: list = [org.pk, org.pk, [str(c) for c in EXCLUDED_CATEGORIES]]
    if filters.incident_types:
        conditions.append(f"{alias}.incident_type_id = ANY(%s)")
        params.append([t.pk for t in filters.incident_types])
    if filters.severities:
        conditions.append(f"{alias}.severity_id = ANY(%s)")
        params.append([s.pk for s in filters.severities])
    return " AND ".join(conditions), params


def scoped_incident_ids_sql(org, filters: InsightFilters, column: str) -> tuple[str, list]:
    """A condition on ``column`` (a column of incident ids, such as a learning
    task's ``t.incident_id``) keeping the rows whose incident
    :func:`incident_scope_sql` keeps. For tables that carry the org
    themselves: the caller still filters on their ``org_id``.

    Without a type or severity filter it reads no incident but the org's few
    declined, merged and canceled ones (a small hashed ``NOT IN``), so a chart
    over tasks or follow-ups reads only their own index: on the bench's org
    (95,000 incidents in scope) joining every task to its incident read every
    incident of the org, 35–60 ms a chart (docs/performance.md, "Insights")."""
    if filters.incident_types or filters.severities:
        scope, params = incident_scope_sql(org, filters, "y")
        return f"{column} IN (SELECT y.id FROM {_INCIDENT} y WHERE {scope})", params
    return (
        f"{column} NOT IN (SELECT x.id FROM {_INCIDENT} x WHERE x.org_id = %s AND x.status_id IN "
        f"(SELECT s.id FROM {_STATUS} s WHERE s.org_id = %s AND s.category = ANY(%s)))",
        [org.pk, org.pk, [str(c) for c in EXCLUDED_CATEGORIES]],
    )


def split_ids(data, name: str) -> list[str]:
    """The values of query parameter ``name``, which may repeat and be comma-separated, stripped."""
    return [part.strip() for value in data.getlist(name) for part in value.split(",")]


def _org_objects(model, org, values: list[str], param: str, noun: str) -> tuple:
    try:
        wanted = {uuid.UUID(v) for v in values if v}
    except ValueError:
        raise InsightFilterError(param, f"Unknown {noun} in this organization.") from None
    if not wanted:
        return ()
    found = list(model.objects.filter(org=org, public_id__in=wanted).order_by("rank", "pk"))
    if len(found) != len(wanted):
        raise InsightFilterError(param, f"Unknown {noun} in this organization.")
    return tuple(found)


def insight_filters_parse(
    org, data, *, today: date, type_param: str = "incident_type", severity_param: str = "severity"
) -> InsightFilters:
    """The filters from a request's query (a ``QueryDict``; absent means the
    default, the last 90 days). ``today`` is the org's local date. ``range``
    takes a preset; ``from`` and ``to`` (local dates, inclusive) take a custom
    range and win over ``range``. Type and severity ids may repeat or be
    comma-separated. Raises :class:`InsightFilterError`."""
    tz = ZoneInfo(org.time_zone)

    first_text, last_text = (data.get("from") or "").strip(), (data.get("to") or "").strip()
    if first_text or last_text:
        if not (first_text and last_text):
            raise InsightFilterError("from" if not first_text else "to", "Give both “from” and “to” (YYYY-MM-DD).")
        try:
            period = period_parse(f"{first_text}..{last_text}", tz)
        except PeriodError as error:
            raise InsightFilterError("from", str(error)) from None
        try:
            period.start, period.end  # noqa: B018 (computed only to be checked)
        except OverflowError:  # year 1 or 9999: its midnights are not datetimes in UTC
            raise InsightFilterError("from", f"“{first_text}..{last_text}” is out of range.") from None
        if (period.last - period.first).days + 1 > MAX_RANGE_DAYS:
            raise InsightFilterError("to", f"A range can cover at most {MAX_RANGE_DAYS} days.")
        preset = ""
    else:
        preset = (data.get("range") or DEFAULT_PRESET).strip()
        if preset not in PRESETS:
            raise InsightFilterError("range", f"Choose one of {', '.join(PRESETS)}, or give “from” and “to”.")
        days = PRESETS[preset][0]
        period = Period(today - timedelta(days=days - 1), today, tz)
    return InsightFilters(
        period=period,
        preset=preset,
        incident_types=_org_objects(IncidentType, org, split_ids(data, type_param), type_param, "incident type"),
        severities=_org_objects(Severity, org, split_ids(data, severity_param), severity_param, "severity"),
    )


def org_today(org, now: datetime) -> date:
    return now.astimezone(ZoneInfo(org.time_zone)).date()
