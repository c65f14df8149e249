"""Reads of the Post-incident page (``post_incident_views.py``): the org's
incidents in the learning flow, and those finished with it whose follow-ups
are still outstanding, with what is left to do and what is late.

One statement per page of rows, whatever the data size (docs/performance.md):
the page's keys are chosen first (filtered, sorted, keyset-paginated, limited)
and only those rows are then joined to their status, type and lead and get
their counts. It runs as a prepared statement
(:func:`~incidentio.common.db.execute_hot`); each distinct filter combination
is its own statement text, prepared once per connection.

The tables as the conditions see them: ``i`` the incident; ``t`` a learning
task, ``f`` a follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection
from django.utils.timesince import timesince

from incidentio.common.db import execute_hot
from incidentio.incidents.models import (
    FollowUp,
    FollowUpStatus,
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    RoleKind,
)
from learning.models import LearningStatusVisit, LearningTask, TaskState
from orgs.models import User

RUNNING = "running"
FINISHED = "finished"
VIEWS = (RUNNING, FINISHED)
SORT_TIME = "time"
SORT_OVERDUE = "overdue"
SORTS = (SORT_TIME, SORT_OVERDUE)

_INCIDENT, _STATUS, _TYPE = Incident._meta.db_table, IncidentStatus._meta.db_table, IncidentType._meta.db_table
_TASK, _FOLLOW_UP, _VISIT = LearningTask._meta.db_table, FollowUp._meta.db_table, LearningStatusVisit._meta.db_table
_ASSIGNMENT, _ROLE, _USER = IncidentRoleAssignment._meta.db_table, IncidentRole._meta.db_table, User._meta.db_table

#: The outstanding tasks of the incident's current status (a finished
#: incident is in a closed status, which has none) and its outstanding
#: follow-ups, each as (outstanding, overdue). ``%(now)s`` is the moment due
#: dates are compared with.
_TASK_COUNTS = f"""
    SELECT count(*) AS n, count(*) FILTER (WHERE t.due_at < %s) AS late FROM {_TASK} t
    WHERE t.incident_id = i.id AND t.status_id = i.status_id AND t.state = '{TaskState.OUTSTANDING}'
"""
_FOLLOW_UP_COUNTS = f"""
    SELECT count(*) AS n, count(*) FILTER (WHERE f.due_at < %s) AS late FROM {_FOLLOW_UP} f
    WHERE f.incident_id = i.id AND f.status = '{FollowUpStatus.OUTSTANDING}'
"""
_OUTSTANDING_TASK = f"""SELECT 1 FROM {_TASK} t WHERE t.incident_id = i.id AND t.status_id = i.status_id
    AND t.state = '{TaskState.OUTSTANDING}'"""
_OUTSTANDING_FOLLOW_UP = (
    f"SELECT 1 FROM {_FOLLOW_UP} f WHERE f.incident_id = i.id AND f.status = '{FollowUpStatus.OUTSTANDING}'"
)

#: Which incidents each view lists.
_WHICH = {
    RUNNING: f"i.learning_flow = '{LearningFlowState.RUNNING}'",
    # Follow-ups outlive the flow: a finished incident stays here while one is outstanding.
    FINISHED: (f"i.learning_flow IN ('{LearningFlowState.COMPLETED}', '{LearningFlowState.OPTED_OUT}')"
               f" AND EXISTS ({_OUTSTANDING_FOLLOW_UP})"),
}


@dataclass(frozen=True)
class Filters:
    view: str = RUNNING
    type_id: int | None = None  # an IncidentType of the org
    owner_id: int | None = None  # a member (user id): holds an outstanding task or follow-up of the incident
    overdue_only: bool = False
    sort: str = SORT_TIME


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: the last row's sort key."""

    late: int
    since: datetime
    id: int


@dataclass(frozen=True, slots=True)
class Row:
    """One incident as the page shows it, read as a row."""

    id: int
    public_id: UUID
    number: int
    name: str
    type_name: str
    status_name: str
    since: datetime
    lead_name: str | None
    lead_email: str | None
    outstanding: int
    overdue: int

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"  # as Incident.reference

    @property
    def lead(self) -> str | None:
        return None if self.lead_email is None else User.display_name_of(self.lead_name, self.lead_email)

    def time_in_status(self, now: datetime) -> str:
        """"3 days": the largest unit only, as people say it ("under a minute", not "0 minutes")."""
        if now - self.since < timedelta(minutes=1):
            return "under a minute"
        return timesince(self.since, now, depth=1)


@dataclass
class Page:
    rows: list[Row]
    next_cursor: Cursor | None
    now: datetime


def _keys_sql(filters: Filters, *, after: bool) -> tuple[str, list[str]]:
    """The page's keys ``(id, k_since, k_late)``, sorted, after the cursor and
    limited, and the names of their parameters in order.

    "Time in status" counts, for an incident in the flow, from when it entered
    its current learning status: its visit that it has not left (the flow sets
    ``left_at`` when it moves on). A partial index holds those visits by
    status and time, so the keys are read one status of the org at a time,
    each stopping after a page, and merged: a page reads a page per status,
    not every incident in the flow. For one finished with the flow, it counts
    from when it was closed (completed or opted out)."""
    view = filters.view
    if filters.sort == SORT_OVERDUE:
        # Every matching incident's overdue count decides the order, so this
        # sort counts for all of them, not for one page (docs/learning-flow.md).
        late = f"(({_OUTSTANDING_TASK.replace('SELECT 1', 'SELECT count(*)')} AND t.due_at < %s)" \
               f" + ({_OUTSTANDING_FOLLOW_UP.replace('SELECT 1', 'SELECT count(*)')} AND f.due_at < %s))"
        names = ["now", "now"]
        # Most overdue first, then longest in the status, then the incident.
        key, order, cursor = "-q.k_late, q.k_since, q.id", "q.k_late DESC, q.k_since, q.id", ["late", "since", "id"]
    else:
        late, names = "0", []
        key, order, cursor = "q.k_since, q.id", "q.k_since, q.id", ["since", "id"]
    if view == RUNNING:
        # ``ls``: each status of the org (the sub-query runs once per status).
        candidates = (f"SELECT w.incident_id AS id, w.entered_at AS k_since, {late} AS k_late FROM {_VISIT} w"
                      f" JOIN {_INCIDENT} i ON i.id = w.incident_id AND i.status_id = w.status_id"
                      f" WHERE w.status_id = ls.id AND w.left_at IS NULL AND {_WHICH[view]}")
    else:
        candidates = (f"SELECT i.id, i.closed_at AS k_since, {late} AS k_late FROM {_INCIDENT} i"
                      f" WHERE i.org_id = %s AND {_WHICH[view]}")
        names.append("org")
    if filters.type_id is not None:
        candidates += " AND i.incident_type_id = %s"
        names.append("type")
    if filters.owner_id is not None:
        candidates += (f" AND (EXISTS ({_OUTSTANDING_TASK} AND t.assignee_id = %s)"
                       f" OR EXISTS ({_OUTSTANDING_FOLLOW_UP} AND f.assignee_id = %s))")
        names += ["owner", "owner"]
    if filters.overdue_only:
        candidates += (f" AND (EXISTS ({_OUTSTANDING_TASK} AND t.due_at < %s)"
                       f" OR EXISTS ({_OUTSTANDING_FOLLOW_UP} AND f.due_at < %s))")
        names += ["now", "now"]
    keyset = ""
    if after:
        keyset = f" WHERE ({key}) > ({', '.join(['%s'] * len(cursor))})"
        names += [f"after_{name}" for name in cursor]
    page = f"SELECT q.* FROM ({candidates}) q{keyset} ORDER BY {order} LIMIT %s"
    if view == FINISHED:
        return page, [*names, "limit"]
    return (f"SELECT q.* FROM {_STATUS} ls CROSS JOIN LATERAL ({page}) q WHERE ls.org_id = %s"
            f" ORDER BY {order} LIMIT %s"), [*names, "limit", "org", "limit"]


def _page_sql(filters: Filters, *, after: bool) -> tuple[str, list[str]]:
    """The page's statement and the names of its parameters, in order: the
    page's keys (:func:`_keys_sql`), and only those rows joined to what the
    page shows, with their counts."""
    keys, names = _keys_sql(filters, after=after)
    sql = f"""
    SELECT i.id, i.public_id, i.number, i.name, ty.name, s.name, k.k_since, lead.name, lead.email,
           tc.n + fc.n, tc.late + fc.late
    FROM ({keys}) k
    JOIN {_INCIDENT} i ON i.id = k.id
    JOIN {_STATUS} s ON s.id = i.status_id
    JOIN {_TYPE} ty ON ty.id = i.incident_type_id
    LEFT JOIN LATERAL (
        SELECT u.name, u.email FROM {_ASSIGNMENT} a
        JOIN {_ROLE} r ON r.id = a.role_id AND r.kind = '{RoleKind.LEAD}'
        JOIN {_USER} u ON u.id = a.user_id
        WHERE a.incident_id = i.id LIMIT 1
    ) lead ON true
    CROSS JOIN LATERAL ({_TASK_COUNTS}) tc
    CROSS JOIN LATERAL ({_FOLLOW_UP_COUNTS}) fc
    ORDER BY k.k_late DESC, k.k_since ASC, k.id ASC
    """
    return sql, [*names, "now", "now"]


def post_incident_page(*, org, filters: Filters, now: datetime, after: Cursor | None = None,
                       page_size: int = 25) -> Page:
    """A page of the org's incidents matching ``filters``: longest in their
    status first, or most overdue first (then longest in their status)."""
    sql, names = _page_sql(filters, after=after is not None)
    values = {
        "org": org.pk, "type": filters.type_id, "owner": filters.owner_id, "now": now, "limit": page_size + 1,
        "after_late": None if after is None else -after.late,
        "after_since": None if after is None else after.since,
        "after_id": None if after is None else after.id,
    }
    with connection.cursor() as cursor:
        execute_hot(cursor, sql, [values[name] for name in names])
        rows = [Row(*row) for row in cursor.fetchall()]
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        next_cursor = Cursor(last.overdue if filters.sort == SORT_OVERDUE else 0, last.since, last.id)
    return Page(rows, next_cursor, now)
