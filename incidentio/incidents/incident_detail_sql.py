"""The incident page's reads in plain SQL: the incident, and its timeline's newest events.

The page shows the incident with its status, severity, the incident it was
merged into, its post-mortem, who holds which role, its follow-ups and its
debriefs with their attendees. Through the ORM that was four querysets
(one with four joins, three prefetches, a fifth for attendees) and Django
spent more compiling them and building instances than Postgres spent
answering (docs/performance.md). Here it is one prepared statement
(incidentio/common/db.py): the incident's row with its joins, and each list as a
JSON array of rows. It returns the ORM's instances with the relations filled
in as ``select_related``/``prefetch_related`` fill them, so the page's code
and templates read them unchanged and run no further query.

The same statement reads what the page's forms offer from the org: its roles,
its live statuses and severities, its members. Each was a query of its own
(the roles through the ORM, ≈ 0.4 ms of Python), one round trip each.

The timeline's newest events (``timeline_page``) are a second prepared
statement, one row per event with its actor's name, and the count of all of
them; the page renders them from plain rows, not instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from incidentio.common.db import (
    execute_hot,
    model_columns,
    model_from_json,
    model_from_row,
    model_width,
    set_prefetched,
)
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    Postmortem,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from orgs.models import Membership, User


@dataclass
class OrgChoices:
    """What the incident page's forms offer from the org."""

    roles: list[IncidentRole]  # in order, each with a select of the members
    live_statuses: list[tuple[str, str]]  # (public id, name) choices of the status form
    severities: list[tuple[str, str]]  # likewise
    members: list[tuple[int, str, str]]  # (id, name, e-mail) by e-mail, as selectors.member_rows


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


_USER = User._meta.db_table
_SQL = f"""
SELECT {model_columns(Incident, "i")}, {model_columns(IncidentStatus, "s")}, {model_columns(Severity, "v")},
    {model_columns(Postmortem, "pm")}, {_json_columns(Incident, "mi", MERGED_INTO_FIELDS)},
    (SELECT coalesce(json_agg(json_build_array({_json_columns(IncidentRoleAssignment, "a", ASSIGNMENT_FIELDS)},
                                               {_json_columns(User, "u", USER_FIELDS)}) ORDER BY a.id), '[]')
     FROM {IncidentRoleAssignment._meta.db_table} a JOIN {_USER} u ON u.id = a.user_id
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
     FROM {IncidentRole._meta.db_table} r WHERE r.org_id = i.org_id),
    (SELECT coalesce(json_agg(json_build_array(ls.public_id, ls.name) ORDER BY ls.rank, ls.id), '[]')
     FROM {IncidentStatus._meta.db_table} ls WHERE ls.org_id = i.org_id AND ls.category = %s),
    (SELECT coalesce(json_agg(json_build_array(os.public_id, os.name) ORDER BY os.rank, os.id), '[]')
     FROM {Severity._meta.db_table} os WHERE os.org_id = i.org_id),
    (SELECT coalesce(json_agg(json_build_array(mu.id, mu.name, mu.email) ORDER BY mu.email), '[]')
     FROM {_USER} mu JOIN {Membership._meta.db_table} m ON m.user_id = mu.id WHERE m.org_id = i.org_id)
FROM {Incident._meta.db_table} i
JOIN {IncidentStatus._meta.db_table} s ON s.id = i.status_id
LEFT JOIN {Severity._meta.db_table} v ON v.id = i.severity_id
LEFT JOIN {Postmortem._meta.db_table} pm ON pm.incident_id = i.id
LEFT JOIN {Incident._meta.db_table} mi ON mi.id = i.merged_into_id
WHERE i.org_id = %s AND i.public_id = %s
"""


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


def incident_detail(org, public_id) -> tuple[Incident, OrgChoices] | None:
    """The org's incident with that public id (None when there is none), its
    relations loaded: ``status``, ``severity``, ``merged_into`` (id, public id,
    number), ``postmortem``; ``role_assignments`` with their ``user``,
    ``follow_ups`` with their ``assignee``, ``debriefs`` with their ``attendees``;
    and what the page's forms offer from the org."""
    with connection.cursor() as cursor:
        execute_hot(cursor, _SQL, [StatusCategory.LIVE, org.pk, str(public_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    columns = _Row(row)
    incident = model_from_row(Incident, columns.take(model_width(Incident)))
    incident.org = org
    incident.status = model_from_row(IncidentStatus, columns.take(model_width(IncidentStatus)))
    severity = columns.take(model_width(Severity))
    incident.severity = None if severity[0] is None else model_from_row(Severity, severity)
    postmortem = columns.take(model_width(Postmortem))
    postmortem = None if postmortem[0] is None else model_from_row(Postmortem, postmortem)
    if postmortem is not None:
        postmortem.incident = incident
    # A reverse one-to-one: cached as None, ``incident.postmortem`` raises DoesNotExist as after select_related.
    Incident.postmortem.related.set_cached_value(incident, postmortem)
    merged_into = columns.take(len(MERGED_INTO_FIELDS))
    incident.merged_into = None if merged_into[0] is None else model_from_json(Incident, MERGED_INTO_FIELDS,
                                                                               merged_into)
    assignments, follow_ups, debriefs = columns.take(3)

    set_prefetched(incident, "role_assignments", _rows_of(
        incident, IncidentRoleAssignment, ASSIGNMENT_FIELDS, assignments,
        lambda assignment, user: setattr(assignment, "user", _user(user)),
    ))
    set_prefetched(incident, "follow_ups", _rows_of(
        incident, FollowUp, FOLLOW_UP_FIELDS, follow_ups,
        lambda follow_up, user: setattr(follow_up, "assignee", _user(user)),
    ))
    set_prefetched(incident, "debriefs", _rows_of(
        incident, Debrief, DEBRIEF_FIELDS, debriefs,
        lambda debrief, rest: set_prefetched(debrief, "attendees", [_user(user) for user in rest[0]]),
    ))
    roles, live_statuses, severities, members = columns.take(4)
    return incident, OrgChoices(
        roles=[model_from_json(IncidentRole, ROLE_FIELDS, values) for values in roles],
        live_statuses=[(public_id, name) for public_id, name in live_statuses],
        severities=[(public_id, name) for public_id, name in severities],
        members=[(pk, name, email) for pk, name, email in members],
    )


def _rows_of(incident, model, attnames: tuple[str, ...], rows, load_rest) -> list:
    """``model`` instances from JSON rows that start with the ``attnames``
    columns; ``load_rest(instance, rest)`` loads what follows them. Each links
    back to ``incident``, as ``prefetch_related`` links each row back."""
    width = len(attnames)
    loaded = []
    for values in rows:
        instance = model_from_json(model, attnames, values[:width])
        load_rest(instance, values[width:])
        instance.incident = incident
        loaded.append(instance)
    return loaded


#: The count is a subquery run once (uncorrelated: the incident's id is passed
#: again), not ``count(*) OVER ()``: a window needs every event read and
#: joined to its actor before the LIMIT (0.36 ms for 200 events on the bench
#: data), the subquery counts the index alone (0.14 ms in all).
_TIMELINE_SQL = f"""
SELECT e.public_id, e.kind, e.text, e.occurred_at, e.slack_permalink, e.actor_kind, e.actor_label,
       u.name, u.email, (SELECT count(*) FROM {TimelineEvent._meta.db_table} c WHERE c.incident_id = %s)
FROM {TimelineEvent._meta.db_table} e
LEFT JOIN {User._meta.db_table} u ON u.id = e.actor_user_id
WHERE e.incident_id = %s
ORDER BY e.occurred_at DESC, e.id DESC
LIMIT %s
"""


def timeline_page(incident_id: int, limit: int | None) -> tuple[list[tuple], int]:
    """The incident's newest ``limit`` events (all with None), newest first, as
    ``selectors.TIMELINE_ROW`` tuples, and how many events it has in all."""
    with connection.cursor() as cursor:
        execute_hot(cursor, _TIMELINE_SQL, [incident_id, incident_id, limit])  # LIMIT NULL is no limit
        rows = cursor.fetchall()
    return [row[:-1] for row in rows], rows[0][-1] if rows else 0
