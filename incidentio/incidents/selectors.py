"""Reads of the incident core. Every read is scoped through its organization."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet
from django.http import Http404

from incidentio.common.lookups import get_or_404
from incidentio.incidents import queries
from incidentio.incidents.models import (
    CATEGORY_ORDER,
    EVENT_KIND_LABELS,
    MARKDOWN_EVENT_KINDS,
    Debrief,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.queries import IncidentPageRead
from incidentio.incidents.references import parse_reference
from orgs.calendar import Period
from orgs.models import Organization, User

# --- Configuration ------------------------------------------------------------------


def status_list(*, org: Organization) -> list[IncidentStatus]:
    statuses = list(IncidentStatus.objects.filter(org=org))
    statuses.sort(key=lambda s: _status_order(s.category, s.rank, s.pk))
    return statuses


def _status_order(category: str, rank: int, pk: int) -> tuple:
    """Statuses by lifecycle category, then their rank in it."""
    return CATEGORY_ORDER.index(category), rank, pk


def filter_choices(
    *, org: Organization, status_categories: Collection[str] | None = None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """``(statuses, severities, incident types)`` as ``(public id, name)``
    choices, in ``status_list``, ``severity_list`` and ``incident_type_list``
    order, in one query of rows: the incidents list's filters and the incident
    page's edit form, on every page. ``status_categories`` keeps the statuses
    of those categories only."""
    rows = queries.choice_rows(org)
    statuses = sorted(
        (r for r in rows if r[0] == "s" and (status_categories is None or r[3] in status_categories)),
        key=lambda r: _status_order(*r[3:6]),
    )
    severities = sorted((r for r in rows if r[0] == "v"), key=lambda r: (r[4], r[5]))
    types = sorted((r for r in rows if r[0] == "t"), key=lambda r: (r[4], r[5]))
    return tuple([(str(r[1]), r[2]) for r in kind] for kind in (statuses, severities, types))


def status_get(*, org: Organization, public_id) -> IncidentStatus:
    return get_or_404(IncidentStatus.objects.filter(org=org), "status", public_id=public_id)


def severity_list(*, org: Organization) -> QuerySet[Severity]:
    return Severity.objects.filter(org=org).order_by("rank", "pk")


def severity_get(*, org: Organization, public_id) -> Severity:
    return get_or_404(Severity.objects.filter(org=org), "severity", public_id=public_id)


def role_list(*, org: Organization) -> QuerySet[IncidentRole]:
    return IncidentRole.objects.filter(org=org).order_by("rank", "pk")


def incident_type_list(*, org: Organization) -> QuerySet[IncidentType]:
    return IncidentType.objects.filter(org=org).order_by("rank", "pk")


def incident_type_get(*, org: Organization, public_id) -> IncidentType:
    return get_or_404(IncidentType.objects.filter(org=org), "incident type", public_id=public_id)


def member_rows(*, org: Organization) -> list[tuple[int, str, str]]:
    """The org's members as ``(id, name, email)`` rows, ordered by e-mail:
    rows, not ``User`` instances, because a page builds several selects of
    200 of them (the incidents list and every incident page ask for it)."""
    return queries.member_rows(org)


def role_get(*, org: Organization, public_id) -> IncidentRole:
    return get_or_404(IncidentRole.objects.filter(org=org), "role", public_id=public_id)


# --- Incidents -----------------------------------------------------------------------------


# The one way every surface (dashboard, API, Slack) fetches an org's incident by
# a key it was given: through the org, in one query, and the same Http404
# ("No such incident.") for a missing incident, another org's and a malformed
# key. A surface adapts the 404 to its own answer (the API's 404 JSON, Slack's
# ephemeral "not found", a form error), it does not look incidents up itself.


def _incidents(org: Organization, queryset: QuerySet | None) -> QuerySet:
    if queryset is None:
        queryset = Incident.objects.select_related("status", "severity", "incident_type", "org", "merged_into")
    return queryset.filter(org=org)  # whatever the caller passed


def incident_get(*, org: Organization, public_id, queryset: QuerySet | None = None) -> Incident:
    """The org's incident by public id (a dashboard URL, a Slack button or modal)."""
    return get_or_404(_incidents(org, queryset), "incident", public_id=public_id)


def incident_get_by_reference(*, org: Organization, reference: str, queryset: QuerySet | None = None) -> Incident:
    """The org's incident by reference (``INC-12``; ``incidentio.incidents.references``)."""
    number = parse_reference(reference)
    if number is None:
        raise Http404("No such incident.")
    return get_or_404(_incidents(org, queryset), "incident", number=number)


def incident_lookup(*, org: Organization, key: str, queryset: QuerySet | None = None) -> Incident:
    """The org's incident by public id or by reference, wherever both are taken
    (the API's ``incident_id``). ``queryset`` reads it another way (e.g. as a row)."""
    if parse_reference(key) is not None:
        return incident_get_by_reference(org=org, reference=key, queryset=queryset)
    return incident_get(org=org, public_id=key, queryset=queryset)


@dataclass(frozen=True)
class OrgRef:
    """One of the org's objects a drill-down filter names: its row id and its
    name as the list's chip shows it. ``pk`` None stands for "none": tasks
    without a template, or without an assignee."""

    pk: int | None
    name: str


@dataclass
class DrillDownFilters:
    """The incidents list's drill-down filters (``filters.DRILLDOWNS``, one
    field per parameter), as the form resolved them in the org. Periods are
    in the org's time zone, from their start up to, not including, their
    end. The ``task_*`` filters are met by one learning task meeting all of
    them, the ``follow_up_*`` ones by one follow-up."""

    reported: Period | None = None
    closed: Period | None = None
    #: ``severity=none``: incidents without a severity, or with one of ``IncidentFilters.severity``.
    no_severity: bool = False
    opt_out_reason: str = ""  # exact, without the whitespace around it
    visited_status: OrgRef | None = None  # a learning status
    task_template: OrgRef | None = None
    task_state: str = ""  # a filters.TaskOutcome
    task_created: Period | None = None
    task_assignee: OrgRef | None = None  # pk: the member's user id
    follow_up_created: Period | None = None
    follow_up_completed: Period | None = None
    follow_up_open_age: str = ""  # a filters.FollowUpAge
    follow_up_priority: str = ""  # a FollowUpPriority
    follow_up_on_time: str = ""  # a filters.OnTime
    #: The moment an overdue task and a follow-up's age are measured at (the request's).
    now: datetime | None = None


def drilldown_refs(
    *, org: Organization, learning_status: UUID | None, task_template: UUID | None, member: UUID | None
) -> dict[str, OrgRef]:
    """The org's learning status, task template and member (by membership)
    with these public ids, in one query, keyed ``visited_status``,
    ``task_template`` and ``task_assignee``; one that is not the org's is
    missing. A member's ``pk`` is their user id, their name as shown."""
    refs = {}
    for kind, pk, name, email in queries.drilldown_rows(
        org, learning_status=learning_status, task_template=task_template, member=member
    ):
        refs[kind] = OrgRef(pk, User.display_name_of(name, email) if kind == "task_assignee" else name)
    return refs


@dataclass
class IncidentFilters:
    """Filters of the incidents list; each narrows the org's incidents."""

    category: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)  # status public ids
    severity: list[str] = field(default_factory=list)  # severity public ids
    incident_type: list[str] = field(default_factory=list)  # incident type public ids
    learning_flow: list[str] = field(default_factory=list)
    assignee_id: int | None = None
    query: str = ""
    #: What links set (the Insights bars); the form has no control for them.
    drilldown: DrillDownFilters = field(default_factory=DrillDownFilters)

    def sql(self) -> tuple[str, list]:
        """The filters as conditions of the list's page query."""
        return queries.dashboard_conditions(self)


@dataclass(frozen=True, slots=True)
class IncidentListItem:
    """One incident as the dashboard list shows it, read as a row (``values()``).

    The list is the dashboard's busiest page; model instances for 25 incidents,
    their statuses, severities, assignments, roles and users cost more than the
    rest of the request (docs/performance.md).
    """

    public_id: UUID
    number: int
    name: str
    reported_at: datetime
    status_name: str
    status_category: str
    severity_name: str | None
    severity_rank: int | None
    incident_type_name: str
    roles: list[tuple[str, str]]  # (role name, person's display name), in role order

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"  # as Incident.reference


@dataclass
class IncidentPage:
    incidents: list[IncidentListItem]
    next_after: int | None  # the cursor for the next page, or None on the last


#: Incidents numbered more than this below the org's last number are "settled":
#: their declares committed (or failed) long ago, so their count can be kept.
SETTLED_BEHIND = 100


def incident_any(*, org: Organization) -> bool:
    """Whether the org has declared any incident yet (a new org's list greets it instead)."""
    return Incident.objects.filter(org=org).exists()


def incident_count(*, org: Organization, filters: dict | None = None) -> int:
    """How many incidents the org has (matching the API list's validated
    ``filters``, when given), for the API list's ``total_record_count``.

    A filtered count is ``queries.filtered_count``. For the unfiltered one:

    ``COUNT(*)`` reads every incident of the org (6 ms at 100k) and the list
    shows it on every page. Incidents are never deleted, so the count of those
    numbered up to a settled boundary (at least ``SETTLED_BEHIND`` below the
    org's counter, in steps of 100) never changes once no declare of theirs is
    in flight: it is remembered per process. The incidents above the boundary
    (100 to 200) are counted live, so a declare that commits late, or one that
    failed, is counted right. Always one query: it reads the counter, counts
    the newest, and counts the settled ones only when this process does not
    have them for that boundary yet.
    """
    if filters:
        return queries.filtered_count(org, filters=filters)
    known_boundary, known_count = _settled_counts.get(org.pk, (-1, 0))
    found = queries.counts_around_boundary(org, known_boundary=known_boundary, settled_behind=SETTLED_BEHIND)
    if found is None:
        return 0
    boundary, recent, settled = found
    if settled is None:  # this process knows the count up to this boundary
        settled = known_count
    else:
        if len(_settled_counts) > 10_000:
            _settled_counts.clear()
        _settled_counts[org.pk] = (boundary, settled)
    return settled + recent


#: org id → (boundary, incidents numbered up to it), per process.
_settled_counts: dict[int, tuple[int, int]] = {}

_LIST_FIELDS = (
    "id", "public_id", "number", "name", "reported_at",
    "status__name", "status__category", "severity__name", "severity__rank", "incident_type__name",
)


def incident_list(
    *, org: Organization, filters: IncidentFilters, after: int | None = None, page_size: int = 25
) -> IncidentPage:
    """Newest first, by keyset on the org's unique (org, number) index — never OFFSET.

    A deep page costs what the first one does. One query, role holders
    included (``queries.page_rows``).
    """
    where, params = filters.sql()
    rows = queries.page_rows(org, fields=_LIST_FIELDS, where=where, params=params, before=after, limit=page_size + 1)
    holders = role_holders_of_rows(rows)
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    incidents = [
        IncidentListItem(
            public_id=row["public_id"],
            number=row["number"],
            name=row["name"],
            reported_at=row["reported_at"],
            status_name=row["status__name"],
            status_category=row["status__category"],
            severity_name=row["severity__name"],
            severity_rank=row["severity__rank"],
            incident_type_name=row["incident_type__name"],
            roles=[(holder["role_name"], holder["name"]) for holder in holders.get(row["id"], [])],
        )
        for row in rows
    ]
    return IncidentPage(incidents=incidents, next_after=rows[-1]["number"] if has_more and rows else None)


def incident_list_version(
    *, org: Organization, filters: IncidentFilters, after: int | None = None, page_size: int = 25
) -> str:
    """A digest of what :func:`incident_list` reads for the same arguments (its
    own statement, hashed in Postgres: ``queries.page_digest``): the live
    incidents list compares it with the one its page was rendered at."""
    where, params = filters.sql()
    return queries.page_digest(org, fields=_LIST_FIELDS, where=where, params=params, before=after,
                               limit=page_size + 1)


def role_holders_by_incident(*, org: Organization, incident_ids: list[int]) -> dict[int, list[dict]]:
    """``{incident id: [row, ...]}``: who holds which role, in role order, in one
    query of rows (no model instances). Each row has the role's ``public_id``,
    ``name`` and ``shortform``, the person's ``name`` (display name) and
    ``email``, and their ``member_id`` in ``org`` (None once they have left).

    Plain SQL (``queries.role_holders``): every incident the API sends and
    every webhook payload reads it."""
    holders: dict[int, list[dict]] = defaultdict(list)
    if not incident_ids:
        return holders
    for incident_id, *holder in queries.role_holders(org, incident_ids):
        holders[incident_id].append(role_holder(*holder))
    return holders


def role_holders_of_rows(rows: list[dict]) -> dict[int, list[dict]]:
    """``{incident id: [row, ...]}`` as :func:`role_holders_by_incident` gives
    it, from page rows that carry their ``roles`` (``queries.page_rows``)."""
    return {row["id"]: [role_holder(*holder) for holder in row["roles"]] for row in rows}


def role_holder(role_id, role_name: str, shortform: str, user_name: str, email: str, member_id) -> dict:
    """One row of :func:`role_holders_by_incident`, from its columns in that order."""
    return {
        "role_id": role_id, "role_name": role_name, "shortform": shortform,
        "name": User.display_name_of(user_name, email), "email": email, "member_id": member_id,
    }


#: How many of its newest events the incident page shows unless asked for all of them.
TIMELINE_PAGE_EVENTS = 50


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event as the incident page shows it: read as a row, not an instance
    (50 ``TimelineEvent``s and their actors cost the page ≈ 1 ms to build)."""

    public_id: UUID
    kind: str
    text: str
    occurred_at: datetime
    slack_permalink: str
    actor_name: str

    @property
    def kind_label(self) -> str:
        return EVENT_KIND_LABELS.get(self.kind, self.kind)

    @property
    def is_markdown(self) -> bool:
        """Its text is markdown written by a person (an update, a summary)."""
        return self.kind in MARKDOWN_EVENT_KINDS

    @classmethod
    def from_row(cls, row) -> TimelineEntry:
        """From a ``TIMELINE_ROW`` tuple."""
        public_id, kind, text, occurred_at, slack_permalink, actor_kind, actor_label, user_name, user_email = row
        return cls(public_id, kind, text, occurred_at, slack_permalink,
                   TimelineEvent.actor_name_of(actor_kind, actor_label, user_name, user_email))


#: The columns ``TimelineEntry.from_row`` reads, as ``values_list`` names.
TIMELINE_ROW = ("public_id", "kind", "text", "occurred_at", "slack_permalink", "actor_kind", "actor_label",
                "actor_user__name", "actor_user__email")


@dataclass
class IncidentTimeline:
    events: list[TimelineEntry]  # oldest first
    earlier_count: int  # older events not in ``events``


def incident_detail(*, org: Organization, public_id) -> IncidentPageRead:
    """The incident with what its page shows around it, and what the page's
    forms offer from the org: one prepared statement (``queries.incident_page``)."""
    try:
        public_id = UUID(str(public_id))
    except ValueError:
        raise Http404("No such incident.") from None
    found = queries.incident_page(org, public_id)
    if found is None:
        raise Http404("No such incident.")
    return found


def incident_timeline(*, incident: Incident, limit: int | None = TIMELINE_PAGE_EVENTS) -> IncidentTimeline:
    """The incident's newest ``limit`` events (all when ``None``), their actors
    named, and how many older ones there are.

    Through the ORM: the page renders the timeline from the cache
    (``views.incidents.timeline_fragment``), so this runs once per new event."""
    events = TimelineEvent.objects.filter(incident=incident)
    newest = events.order_by("-occurred_at", "-id").values_list(*TIMELINE_ROW)
    rows = list(newest if limit is None else newest[:limit])
    total = events.count()  # always: the page runs the same queries for few events as for many
    entries = [TimelineEntry.from_row(row) for row in reversed(rows)]
    return IncidentTimeline(events=entries, earlier_count=total - len(entries))


def follow_up_get(*, incident: Incident, public_id) -> FollowUp:
    return get_or_404(FollowUp.objects.filter(incident=incident).select_related("incident"), "follow-up", public_id=public_id)


def debrief_get(*, incident: Incident, public_id) -> Debrief:
    return get_or_404(Debrief.objects.filter(incident=incident).prefetch_related("attendees"), "debrief", public_id=public_id)


@dataclass
class Overview:
    active: list[Incident]  # in triage or live, newest first
    active_count: int
    learning_count: int
    my_open_tasks: int


def org_overview(*, org: Organization, user, limit: int = 10) -> Overview:
    """What an org's landing page shows, in a fixed number of queries."""
    from learning.models import LearningTask, TaskState

    active = Incident.objects.filter(
        org=org, status__category__in=[StatusCategory.TRIAGE, StatusCategory.LIVE]
    ).select_related("status", "severity")
    return Overview(
        # The newest few: Postgres walks the org's incidents newest first until it has them.
        active=list(active.order_by("-number")[:limit]),
        # ``status__org`` says what is always true (an incident's status is its
        # org's) so that Postgres counts from the org's few triage and live
        # statuses. Without it the count hashed every org's statuses and read
        # all of the org's incidents: 9 ms at 100,000 incidents, 0.6 ms with it.
        active_count=active.filter(status__org=org).count(),
        learning_count=Incident.objects.filter(org=org, learning_flow=LearningFlowState.RUNNING).count(),
        my_open_tasks=LearningTask.objects.filter(org=org, assignee=user, state=TaskState.OUTSTANDING).count(),
    )
