"""The incident domain's hand-written SQL: the reads where the ORM measurably cost more.

Every other read of the domain goes through the ORM, in ``selectors.py``;
it and the API's representation (``api/representation.py``) are this
module's only callers. A read is here because the
bench showed it pays: each says what it bought, measured on the bench's data
(100,000 incidents; docs/performance.md). Postgres is the only database, so
each has this one path. They run as prepared statements
(:func:`~incidentio.common.db.execute_hot`), planned once per connection.

The tables as the conditions see them: ``i`` the incident, ``s`` its status,
``v`` its severity (null when it has none), ``t`` its type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.db import connection

from incidentio.common.db import execute_hot, model_columns, model_from_json, model_from_row, model_width
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    FollowUpStatus,
    Incident,
    IncidentCounter,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    Postmortem,
    Severity,
    StatusCategory,
)
from incidentio.incidents.references import parse_reference
from orgs.models import Membership, User

_INCIDENT, _STATUS, _SEVERITY = Incident._meta.db_table, IncidentStatus._meta.db_table, Severity._meta.db_table
_TYPE = IncidentType._meta.db_table
_ASSIGNMENT, _ROLE = IncidentRoleAssignment._meta.db_table, IncidentRole._meta.db_table
_USER, _MEMBERSHIP = User._meta.db_table, Membership._meta.db_table
_FOLLOW_UP = FollowUp._meta.db_table
#: The learning app's tables the list's drill-down filters read, by name: the
#: incident core sits below the learning app and does not import it
#: (tests/test_dependencies.py). tests/incidents/test_list_drilldown.py holds
#: these names to the models' ``db_table``.
LEARNING_TASK_TABLE = "learning_learningtask"
TASK_TEMPLATE_TABLE = "learning_tasktemplate"
LEARNING_VISIT_TABLE = "learning_learningstatusvisit"


def _fetchall(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        execute_hot(cursor, sql, params)
        return cursor.fetchall()


# --- The incidents lists' page -------------------------------------------------------------
# Measured: the API list's page 4.3 → 3.4 ms and 4 → 3 queries; the dashboard
# list 6 → 5 queries. Through the ORM (twenty columns, two joins, filters,
# keyset, then the role holders) the page cost more Python than Postgres takes.

FROM_INCIDENTS = f"""
    FROM {_INCIDENT} i
    JOIN {_STATUS} s ON s.id = i.status_id
    LEFT JOIN {_SEVERITY} v ON v.id = i.severity_id
    JOIN {_TYPE} t ON t.id = i.incident_type_id
    WHERE i.org_id = %s
"""
#: Who holds which role, as a JSON array of :func:`role_holders` rows, in role order.
_ROLES_SQL = f"""
    (SELECT coalesce(json_agg(json_build_array(r.public_id, r.name, r.shortform, u.name, u.email,
        (SELECT m.public_id FROM {_MEMBERSHIP} m WHERE m.org_id = i.org_id AND m.user_id = a.user_id))
        ORDER BY r.rank, r.id), '[]')
     FROM {_ASSIGNMENT} a
     JOIN {_ROLE} r ON r.id = a.role_id
     JOIN {_USER} u ON u.id = a.user_id
     WHERE a.incident_id = i.id) AS "roles"
"""


def _column(field: str) -> str:
    table, _, name = field.rpartition("__")
    alias = {"": "i", "status": "s", "severity": "v", "incident_type": "t"}[table]
    return f'{alias}.{name} AS "{field}"'


@cache
def _select(fields: tuple[str, ...]) -> str:
    return "SELECT " + ", ".join(_column(f) for f in fields) + "," + _ROLES_SQL + FROM_INCIDENTS


def _page_sql(fields: tuple[str, ...], where: str, params: list, org, before: int | None, limit: int) -> tuple[str, list]:
    if before is not None:
        where += " AND i.number < %s"
        params = [*params, before]
    return f"{_select(fields)}{where} ORDER BY i.number DESC LIMIT %s", [org.pk, *params, limit]


def page_rows(org, *, fields: tuple[str, ...], where: str, params: list, before: int | None, limit: int) -> list[dict]:
    """Up to ``limit`` of the org's incidents matching ``where`` (`` AND …``
    conditions on ``i``, ``s`` and ``v`` with their ``params``), newest first,
    numbered below ``before``: dicts of ``fields`` (``values()`` names such as
    ``status__name``, ``incident_type__name``) plus ``roles``. Keyset on the (org, number) index."""
    sql, params = _page_sql(fields, where, params, org, before, limit)
    with connection.cursor() as cursor:
        execute_hot(cursor, sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def page_digest(org, *, fields: tuple[str, ...], where: str, params: list, before: int | None, limit: int) -> str:
    """What :func:`page_rows` would return with the same arguments, as one md5
    computed where it is read: the live incidents list's version
    (``incidentio.common.live``). Postgres runs the page's own statement and
    sends 32 characters instead of the rows, and no Python builds them: a
    page that changed in any column, role holder, order or length (a 26th
    row says there is a next page) has another digest."""
    sql, params = _page_sql(fields, where, params, org, before, limit)
    # The rows reach the aggregate in the statement's order (a sorted subquery's order is kept).
    return _fetchall(f"SELECT md5(coalesce(string_agg(p::text, ','), '')) FROM ({sql}) p", params)[0][0]


def dashboard_conditions(filters) -> tuple[str, list]:
    """The dashboard list's filters (a ``selectors.IncidentFilters``) as conditions of :func:`page_rows`.

    The statement's text depends on which filters are set, never on their values (parameters)."""
    where, params = [], []
    for values, condition in (
        (filters.category, "s.category = ANY(%s)"),
        (filters.status, "s.public_id = ANY(%s::text[]::uuid[])"),
        (filters.incident_type, "t.public_id = ANY(%s::text[]::uuid[])"),
        (filters.learning_flow, "i.learning_flow = ANY(%s)"),
    ):
        if values:
            where.append(condition)
            params.append([str(value) for value in values])
    severities, no_severity = filters.severity, filters.drilldown.no_severity
    if severities:
        # "Any of": severity=none adds the incidents without one to those chosen.
        where.append("(v.public_id = ANY(%s::text[]::uuid[]) OR i.severity_id IS NULL)" if no_severity
                     else "v.public_id = ANY(%s::text[]::uuid[])")
        params.append([str(value) for value in severities])
    elif no_severity:
        where.append("i.severity_id IS NULL")
    if filters.assignee_id is not None:
        # EXISTS, not a join: an incident where the person holds two roles is listed once.
        where.append(f"EXISTS (SELECT 1 FROM {_ASSIGNMENT} f WHERE f.incident_id = i.id AND f.user_id = %s)")
        params.append(filters.assignee_id)
    if filters.query:
        # As Django's icontains: the text's own % and _ match themselves.
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", filters.query.strip()) + "%"
        number = parse_reference(filters.query)
        where.append("i.name ILIKE %s" if number is None else "(i.name ILIKE %s OR i.number = %s)")
        params.extend([pattern] if number is None else [pattern, number])
    drill_where, drill_params = _drilldown_conditions(filters.drilldown)
    return "".join(f" AND {condition}" for condition in [*where, *drill_where]), [*params, *drill_params]


#: A whitespace-trimmed text column, as the drill-down's values are trimmed (Python's ``str.strip``).
_TRIMMED = r"regexp_replace({}, '^[[:space:]]+|[[:space:]]+$', '', 'g')"


def _drilldown_conditions(drill) -> tuple[list[str], list]:
    """The drill-down filters (a ``selectors.DrillDownFilters``) as conditions
    on ``i``: the incident's own columns, a visit of a learning status, one
    learning task meeting every ``task_*`` filter, one follow-up meeting
    every ``follow_up_*`` filter (EXISTS: an incident with two such tasks is
    listed once).

    Measured on the bench's 100,000 incidents: Postgres walks the org's
    incidents newest first until a page matches, 2–50 ms a page (a period
    three years back the slowest). An (org, reported_at) index did not
    change the plan: the planner still expects the matches early in that
    walk, so none was added for a page reached from an Insights bar."""
    where, params = [], []

    def within(conditions: list[str], column: str, period) -> None:
        conditions.append(f"{column} >= %s AND {column} < %s")
        params.extend([period.start, period.end])

    def one_of(conditions: list[str], column: str, ref) -> None:
        if ref.pk is None:
            conditions.append(f"{column} IS NULL")
        else:
            conditions.append(f"{column} = %s")
            params.append(ref.pk)

    if drill.reported:
        within(where, "i.reported_at", drill.reported)
    if drill.closed:
        within(where, "i.closed_at", drill.closed)
    if drill.opt_out_reason:
        where.append(f"i.learning_flow = %s AND {_TRIMMED.format('i.opt_out_reason')} = %s")
        params.extend([LearningFlowState.OPTED_OUT, drill.opt_out_reason])
    if drill.visited_status:
        where.append(f"EXISTS (SELECT 1 FROM {LEARNING_VISIT_TABLE} lv WHERE lv.incident_id = i.id AND lv.status_id = %s)")
        params.append(drill.visited_status.pk)

    task: list[str] = []
    if drill.task_template:
        one_of(task, "lt.template_id", drill.task_template)
    if drill.task_state:
        condition, values = _TASK_STATES[drill.task_state]
        task.append(condition)
        params.extend(values(drill.now))
    if drill.task_created:
        within(task, "lt.created_at", drill.task_created)
    if drill.task_assignee and drill.task_assignee.pk is None:
        # As Insights' "Unassigned" bar: nobody, or someone who is no longer a member.
        task.append(f"(lt.assignee_id IS NULL OR NOT EXISTS (SELECT 1 FROM {_MEMBERSHIP} m "
                    "WHERE m.org_id = i.org_id AND m.user_id = lt.assignee_id))")
    elif drill.task_assignee:
        one_of(task, "lt.assignee_id", drill.task_assignee)
    if task:
        where.append(f"EXISTS (SELECT 1 FROM {LEARNING_TASK_TABLE} lt WHERE lt.incident_id = i.id AND "
                     f"{' AND '.join(task)})")

    follow_up: list[str] = []
    if drill.follow_up_created:
        within(follow_up, "fu.created_at", drill.follow_up_created)
    if drill.follow_up_completed:
        follow_up.append("fu.status = %s")
        params.append(FollowUpStatus.COMPLETED)
        within(follow_up, "fu.completed_at", drill.follow_up_completed)
    if drill.follow_up_open_age:
        condition, values = _FOLLOW_UP_AGES[drill.follow_up_open_age]
        follow_up.append(condition)
        params.extend(values(drill.now))
    if drill.follow_up_priority:
        follow_up.append("fu.priority = %s")
        params.append(drill.follow_up_priority)
    if drill.follow_up_on_time:
        follow_up.append("fu.status = %s AND fu.due_at IS NOT NULL AND fu.completed_at "
                         + ("<= fu.due_at" if drill.follow_up_on_time == "yes" else "> fu.due_at"))
        params.append(FollowUpStatus.COMPLETED)
    if follow_up:
        where.append(f"EXISTS (SELECT 1 FROM {_FOLLOW_UP} fu WHERE fu.incident_id = i.id AND "
                     f"{' AND '.join(follow_up)})")
    return where, params


#: ``filters.TaskOutcome`` → (the learning task's condition, its values from the moment of the request).
#: The states are learning.models.TaskState's values.
_TASK_STATES = {
    "completed_by_hand": ("lt.state = %s AND NOT lt.completed_automatically", lambda now: ["completed"]),
    "completed_automatically": ("lt.state = %s AND lt.completed_automatically", lambda now: ["completed"]),
    "not_doing": ("lt.state = %s", lambda now: ["not_doing"]),
    "outstanding": ("lt.state = %s", lambda now: ["outstanding"]),
    "overdue": ("lt.state = %s AND lt.due_at <= %s", lambda now: ["outstanding", now]),
}

#: ``filters.FollowUpAge`` → (the outstanding follow-up's condition, its values from the moment of the
#: request). Whole days: open 30 days and 23 hours is "0–30", 31 days to the second is "31–90".
_FOLLOW_UP_AGES = {
    "0-30": ("fu.status = %s AND fu.created_at > %s",
             lambda now: [FollowUpStatus.OUTSTANDING, now - timedelta(days=31)]),
    "31-90": ("fu.status = %s AND fu.created_at <= %s AND fu.created_at > %s",
              lambda now: [FollowUpStatus.OUTSTANDING, now - timedelta(days=31), now - timedelta(days=91)]),
    "91-": ("fu.status = %s AND fu.created_at <= %s",
            lambda now: [FollowUpStatus.OUTSTANDING, now - timedelta(days=91)]),
}


# Which of the org's objects the drill-down filters name: one query for the
# three kinds a list may name at once; a kind not asked for is given NULL and matches nothing.
_DRILLDOWN_ROWS_SQL = f"""
    SELECT 'visited_status', id, name, '' FROM {_STATUS}
        WHERE org_id = %s AND category = %s AND public_id = %s::uuid
    UNION ALL SELECT 'task_template', id, title, '' FROM {TASK_TEMPLATE_TABLE}
        WHERE org_id = %s AND public_id = %s::uuid
    UNION ALL SELECT 'task_assignee', u.id, u.name, u.email FROM {_MEMBERSHIP} m JOIN {_USER} u ON u.id = m.user_id
        WHERE m.org_id = %s AND m.public_id = %s::uuid
"""


def drilldown_rows(org, *, learning_status, task_template, member) -> list[tuple]:
    """``(kind, id, name, e-mail)`` of the org's learning status, task template
    and membership (its user's id, name and e-mail) with these public ids
    (UUIDs, or None for none); the others' e-mail is ''."""
    ids = [None if value is None else str(value) for value in (learning_status, task_template, member)]
    return _fetchall(_DRILLDOWN_ROWS_SQL, [
        org.pk, StatusCategory.LEARNING, ids[0], org.pk, ids[1], org.pk, ids[2],
    ])


#: The API list's filters: parameter → (its condition of :func:`page_rows`, its
#: value from the validated parameter).
FILTER_CONDITIONS = {
    "status_category[one_of]": ("s.category = ANY(%s)", list),
    "status[one_of]": ("i.status_id = ANY(%s)", lambda statuses: [status.pk for status in statuses]),
    "severity[gte]": ("v.rank >= %s", lambda severity: severity.rank),
    "created_at[gte]": ("i.reported_at >= %s", lambda value: value),
    "created_at[lte]": ("i.reported_at <= %s", lambda value: value),
    "learning_flow[one_of]": ("i.learning_flow = ANY(%s)", list),
    "incident_type[one_of]": ("i.incident_type_id = ANY(%s)", lambda types: [t.pk for t in types]),
}


def api_conditions(filters: dict) -> tuple[str, list]:
    """The API list's validated filters (by parameter name) as conditions of :func:`page_rows`."""
    conditions, params = [], []
    for name, value in filters.items():
        condition, convert = FILTER_CONDITIONS[name]
        conditions.append(f" AND {condition}")
        params.append(convert(value))
    return "".join(conditions), params


# --- How many incidents match ----------------------------------------------------------------

#: The API filters again, for the filtered count: on the incident's own
#: columns, so the count reads the incident table's (org, …) indexes and joins
#: nothing; a status or severity condition is first narrowed to the org's own
#: few. Each takes the org's pk and the value as the page's condition converts it.
COUNT_CONDITIONS = {
    "status_category[one_of]": (
        f"i.status_id IN (SELECT c.id FROM {_STATUS} c WHERE c.org_id = %s AND c.category = ANY(%s))",
        lambda org_pk, value: [org_pk, value],
    ),
    "status[one_of]": ("i.status_id = ANY(%s)", lambda org_pk, value: [value]),
    "severity[gte]": (
        f"i.severity_id IN (SELECT c.id FROM {_SEVERITY} c WHERE c.org_id = %s AND c.rank >= %s)",
        lambda org_pk, value: [org_pk, value],
    ),
    "created_at[gte]": ("i.reported_at >= %s", lambda org_pk, value: [value]),
    "created_at[lte]": ("i.reported_at <= %s", lambda org_pk, value: [value]),
    "learning_flow[one_of]": ("i.learning_flow = ANY(%s)", lambda org_pk, value: [value]),
    "incident_type[one_of]": ("i.incident_type_id = ANY(%s)", lambda org_pk, value: [value]),
}


def filtered_count(org, *, filters: dict) -> int:
    """How many of the org's incidents match the API's ``filters``.

    Measured: ``?status_category[one_of]=live`` 27 → 4.8 ms a request,
    ``learning_flow=running`` 20 → 5.2 ms. Deliberately not prepared: which
    plan reads the matches fastest depends on the org, and a prepared
    statement's generic plan guessed an average org (≈ 200 incidents) and read
    all of one with 100,000 to count 1,000; planned for the org at hand it
    takes ≈ 0.3 ms, for about 0.2 ms of planning."""
    where, params = [], []
    for name, value in filters.items():
        condition, count_params = COUNT_CONDITIONS[name]
        _page_condition, convert = FILTER_CONDITIONS[name]
        where.append(f" AND {condition}")
        params += count_params(org.pk, convert(value))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_INCIDENT} i WHERE i.org_id = %s{''.join(where)}", [org.pk, *params])
        return cursor.fetchone()[0]


#: One query whatever the caller knows (``selectors.incident_count``): the
#: boundary, the incidents above it, and those up to it unless the caller
#: already has them for that boundary.
_COUNT_SQL = f"""
    SELECT b.boundary,
           (SELECT count(*) FROM {_INCIDENT} WHERE org_id = %s AND number > b.boundary),
           CASE WHEN b.boundary = %s THEN NULL
                ELSE (SELECT count(*) FROM {_INCIDENT} WHERE org_id = %s AND number <= b.boundary)
           END
    FROM (SELECT greatest(last_number / 100 * 100 - %s, 0) AS boundary
          FROM {IncidentCounter._meta.db_table} WHERE org_id = %s) b
"""


def counts_around_boundary(org, *, known_boundary: int, settled_behind: int) -> tuple[int, int, int | None] | None:
    """``(boundary, incidents above it, incidents up to it)`` for the org: the
    boundary is at least ``settled_behind`` below its counter, in steps of 100;
    the last is None when the boundary is ``known_boundary`` (the caller has
    it). None for an org that never declared an incident.

    Measured: the unfiltered ``total_record_count`` 6 ms → ≈ 0.3 ms at
    100,000 incidents (``COUNT(*)`` read every incident of the org on every
    page)."""
    rows = _fetchall(_COUNT_SQL, [org.pk, known_boundary, org.pk, settled_behind, org.pk])
    return rows[0] if rows else None


# --- Who holds which role ------------------------------------------------------------------------
# Measured: 1.3 → 0.4 ms per page of incidents; the ORM spent ≈ 1.3 ms of
# Python building a query Postgres answers in 0.2 ms.

# A user has at most one membership per org (orgs.Membership's unique constraint).
_ROLE_HOLDERS_SQL = f"""
    SELECT a.incident_id, r.public_id, r.name, r.shortform, u.name, u.email,
           (SELECT m.public_id FROM {_MEMBERSHIP} m WHERE m.org_id = %s AND m.user_id = a.user_id LIMIT 1)
    FROM {_ASSIGNMENT} a
    JOIN {_ROLE} r ON r.id = a.role_id
    JOIN {_USER} u ON u.id = a.user_id
    WHERE a.incident_id = ANY(%s)
    ORDER BY r.rank, r.id
"""


def role_holders(org, incident_ids: list[int]) -> list[tuple]:
    """``(incident id, role public id, role name, shortform, user's name, e-mail,
    member public id or None)`` rows of the incidents, in role order."""
    return _fetchall(_ROLE_HOLDERS_SQL, [org.pk, list(incident_ids)])


# --- The org's choices -----------------------------------------------------------------------------

# Measured: the list's filter form 1.2 → 0.7 ms and one query fewer (two ORM querysets before).
_CHOICE_ROWS_SQL = f"""
    SELECT 's', public_id, name, category, rank, id FROM {_STATUS} WHERE org_id = %s
    UNION ALL SELECT 'v', public_id, name, '', rank, id FROM {_SEVERITY} WHERE org_id = %s
    UNION ALL SELECT 't', public_id, name, '', rank, id FROM {_TYPE} WHERE org_id = %s
"""


def choice_rows(org) -> list[tuple]:
    """``(kind, public id, name, category, rank, id)`` of the org's statuses
    (kind ``s``), severities (kind ``v``) and incident types (kind ``t``; the
    last two without a category), unordered."""
    return _fetchall(_CHOICE_ROWS_SQL, [org.pk, org.pk, org.pk])


# Measured: 0.52 → 0.31 ms, on the incidents list and every incident page
# (re-measured for issue #17: the ORM's values_list 1.1 ms, this 0.5 ms).
_MEMBERS_SQL = f"""
    SELECT u.id, u.name, u.email FROM {_USER} u
    JOIN {_MEMBERSHIP} m ON m.user_id = u.id
    WHERE m.org_id = %s ORDER BY u.email
"""


def member_rows(org) -> list[tuple[int, str, str]]:
    """The org's members as ``(id, name, email)`` rows, ordered by e-mail."""
    return _fetchall(_MEMBERS_SQL, [org.pk])


# --- The incident page -------------------------------------------------------------------------
# Measured: 7 → 1.1 ms and 11 → 8 queries for the incident with what the page
# shows around it (four querysets with joins and prefetches before), then
# 8 → 5 queries and ≈ 7.1 → 6.2 ms for the page with the org's choices read
# in the same statement (266 → 299 req/s).


@dataclass
class OrgChoices:
    """What the incident page's forms offer from the org."""

    roles: list[IncidentRole]  # in order, each with a select of the members
    live_statuses: list[tuple[str, str]]  # (public id, name) choices of the status form
    severities: list[tuple[str, str]]  # likewise
    incident_types: list[tuple[str, str]]  # likewise
    members: list[tuple[int, str, str]]  # (id, name, e-mail) by e-mail, as member_rows


@dataclass
class IncidentPageRead:
    """The incident with what its page shows around it (in the page's order)."""

    incident: Incident  # with status, severity, incident_type, merged_into (a link's fields) and postmortem
    role_assignments: list[IncidentRoleAssignment]  # each with its user
    follow_ups: list[FollowUp]  # each with its assignee
    debriefs: list[Debrief]  # each with ``attendee_list``, its attendees by name
    choices: OrgChoices


#: What the page knows of a person: everything but the password hash.
USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname != "password")
ASSIGNMENT_FIELDS = tuple(f.attname for f in IncidentRoleAssignment._meta.concrete_fields)
FOLLOW_UP_FIELDS = tuple(f.attname for f in FollowUp._meta.concrete_fields)
DEBRIEF_FIELDS = tuple(f.attname for f in Debrief._meta.concrete_fields)
#: The merged-into incident is shown as a link: its reference and public id.
MERGED_INTO_FIELDS = ("id", "public_id", "org_id", "number")
ROLE_FIELDS = tuple(f.attname for f in IncidentRole._meta.concrete_fields)


def _json_columns(model, alias: str, attnames: tuple[str, ...]) -> str:
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    return ", ".join(f"{alias}.{columns[name]}" for name in attnames)


_INCIDENT_PAGE_SQL = f"""
SELECT {model_columns(Incident, "i")}, {model_columns(IncidentStatus, "s")}, {model_columns(Severity, "v")},
    {model_columns(IncidentType, "t")}, {model_columns(Postmortem, "pm")}, {_json_columns(Incident, "mi", MERGED_INTO_FIELDS)},
    (SELECT coalesce(json_agg(json_build_array({_json_columns(IncidentRoleAssignment, "a", ASSIGNMENT_FIELDS)},
                                               {_json_columns(User, "u", USER_FIELDS)}) ORDER BY a.id), '[]')
     FROM {_ASSIGNMENT} a JOIN {_USER} u ON u.id = a.user_id
     WHERE a.incident_id = i.id),
    (SELECT coalesce(json_agg(json_build_array({_json_columns(FollowUp, "f", FOLLOW_UP_FIELDS)},
                                               {_json_columns(User, "u", USER_FIELDS)})
                              ORDER BY f.created_at, f.id), '[]')
     FROM {FollowUp._meta.db_table} f LEFT JOIN {_USER} u ON u.id = f.assignee_id
     WHERE f.incident_id = i.id),
    (SELECT coalesce(json_agg(json_build_array({_json_columns(Debrief, "d", DEBRIEF_FIELDS)},
        (SELECT coalesce(json_agg(json_build_array({_json_columns(User, "u", USER_FIELDS)}) ORDER BY u.name, u.email, u.id), '[]')
         FROM {Debrief.attendees.through._meta.db_table} da JOIN {_USER} u ON u.id = da.user_id
         WHERE da.debrief_id = d.id)) ORDER BY d.scheduled_at, d.id), '[]')
     FROM {Debrief._meta.db_table} d
     WHERE d.incident_id = i.id),
    (SELECT coalesce(json_agg(json_build_array({_json_columns(IncidentRole, "r", ROLE_FIELDS)}) ORDER BY r.rank, r.id),
                     '[]')
     FROM {_ROLE} r WHERE r.org_id = i.org_id),
    (SELECT coalesce(json_agg(json_build_array(ls.public_id, ls.name) ORDER BY ls.rank, ls.id), '[]')
     FROM {_STATUS} ls WHERE ls.org_id = i.org_id AND ls.category = %s),
    (SELECT coalesce(json_agg(json_build_array(os.public_id, os.name) ORDER BY os.rank, os.id), '[]')
     FROM {_SEVERITY} os WHERE os.org_id = i.org_id),
    (SELECT coalesce(json_agg(json_build_array(ot.public_id, ot.name) ORDER BY ot.rank, ot.id), '[]')
     FROM {_TYPE} ot WHERE ot.org_id = i.org_id),
    (SELECT coalesce(json_agg(json_build_array(mu.id, mu.name, mu.email) ORDER BY mu.email), '[]')
     FROM {_USER} mu JOIN {_MEMBERSHIP} m ON m.user_id = mu.id WHERE m.org_id = i.org_id)
FROM {_INCIDENT} i
JOIN {_STATUS} s ON s.id = i.status_id
LEFT JOIN {_SEVERITY} v ON v.id = i.severity_id
JOIN {_TYPE} t ON t.id = i.incident_type_id
LEFT JOIN {Postmortem._meta.db_table} pm ON pm.incident_id = i.id
LEFT JOIN {_INCIDENT} mi ON mi.id = i.merged_into_id
WHERE i.org_id = %s AND i.public_id = %s
"""


#: The incident page's whole read (:func:`incident_page`) as one md5, computed
#: where it is read, with the same parameters: what the live incident page's
#: version is made of (``learning.queries.incident_page_version``). Whatever the
#: page reads through that statement changes the digest when it changes.
INCIDENT_PAGE_DIGEST_SQL = f"SELECT md5(p::text) FROM ({_INCIDENT_PAGE_SQL}) p"


def incident_page_params(org, public_id) -> list:
    """The parameters of the incident page's statement (and of its digest)."""
    return [StatusCategory.LIVE, org.pk, str(public_id)]


class _Row:
    """Reads a row left to right, a model's columns at a time."""

    def __init__(self, row):
        self.row = row
        self.at = 0

    def take(self, count: int):
        values = self.row[self.at:self.at + count]
        self.at += count
        return values


def _user(values):
    """A person from ``USER_FIELDS`` values, or None (a follow-up nobody is assigned)."""
    return None if values[0] is None else model_from_json(User, USER_FIELDS, values)


def _linked(incident, model, attnames: tuple[str, ...], values):
    """A ``model`` instance from the first ``attnames`` of a JSON row, linked
    back to ``incident``; and the rest of the row."""
    instance = model_from_json(model, attnames, values[:len(attnames)])
    instance.incident = incident
    return instance, values[len(attnames):]


def incident_page(org, public_id) -> IncidentPageRead | None:
    """The org's incident with that public id, with what its page shows around
    it and what its forms offer from the org; None when there is none. The
    org (already known) and the creator (not shown) are not read."""
    rows = _fetchall(_INCIDENT_PAGE_SQL, incident_page_params(org, public_id))
    if not rows:
        return None
    columns = _Row(rows[0])
    incident = model_from_row(Incident, columns.take(model_width(Incident)))
    incident.org = org
    incident.status = model_from_row(IncidentStatus, columns.take(model_width(IncidentStatus)))
    severity = columns.take(model_width(Severity))
    incident.severity = None if severity[0] is None else model_from_row(Severity, severity)
    incident.incident_type = model_from_row(IncidentType, columns.take(model_width(IncidentType)))
    postmortem = columns.take(model_width(Postmortem))
    postmortem = None if postmortem[0] is None else model_from_row(Postmortem, postmortem)
    if postmortem is not None:
        postmortem.incident = incident
    # A reverse one-to-one: cached as None, ``incident.postmortem`` raises DoesNotExist as after select_related.
    Incident.postmortem.related.set_cached_value(incident, postmortem)
    merged_into = columns.take(len(MERGED_INTO_FIELDS))
    if merged_into[0] is not None:
        incident.merged_into = model_from_json(Incident, MERGED_INTO_FIELDS, merged_into)
    else:
        incident.merged_into = None
    assignment_rows, follow_up_rows, debrief_rows, roles, live_statuses, severities, types, members = columns.take(8)

    assignments = []
    for values in assignment_rows:
        assignment, user = _linked(incident, IncidentRoleAssignment, ASSIGNMENT_FIELDS, values)
        assignment.user = _user(user)
        assignments.append(assignment)
    follow_ups = []
    for values in follow_up_rows:
        follow_up, assignee = _linked(incident, FollowUp, FOLLOW_UP_FIELDS, values)
        follow_up.assignee = _user(assignee)
        follow_ups.append(follow_up)
    debriefs = []
    for values in debrief_rows:
        debrief, (attendees,) = _linked(incident, Debrief, DEBRIEF_FIELDS, values)
        debrief.attendee_list = [_user(user) for user in attendees]
        debriefs.append(debrief)
    return IncidentPageRead(
        incident=incident,
        role_assignments=assignments,
        follow_ups=follow_ups,
        debriefs=debriefs,
        choices=OrgChoices(
            roles=[model_from_json(IncidentRole, ROLE_FIELDS, values) for values in roles],
            live_statuses=[(public_id, name) for public_id, name in live_statuses],
            severities=[(public_id, name) for public_id, name in severities],
            incident_types=[(public_id, name) for public_id, name in types],
            members=[(pk, name, email) for pk, name, email in members],
        ),
    )
