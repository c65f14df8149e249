"""The incidents lists' page in one statement of plain SQL, role holders included.

Both incident lists, the API's and the dashboard's, are their surface's
busiest read and have a fixed shape: built through the ORM (twenty columns,
two joins, filters, keyset, then a second query for the role holders) the page
cost more Python than Postgres takes to run it (docs/performance.md). Here it
is one prepared statement (incidentio/common/db.py); each list adds its own filter
conditions.
"""

from __future__ import annotations

from functools import cache

from django.db import connection

from incidentio.common.db import execute_hot
from incidentio.incidents.models import Incident, IncidentRole, IncidentRoleAssignment, IncidentStatus, Severity
from orgs.models import Membership, User


def _column(field: str) -> str:
    table, _, name = field.rpartition("__")
    alias = {"": "i", "status": "s", "severity": "v"}[table]
    return f'{alias}.{name} AS "{field}"'


#: The tables as the conditions see them: ``i`` the incident, ``s`` its
#: status, ``v`` its severity (null when it has none).
FROM_INCIDENTS = f"""
    FROM {Incident._meta.db_table} i
    JOIN {IncidentStatus._meta.db_table} s ON s.id = i.status_id
    LEFT JOIN {Severity._meta.db_table} v ON v.id = i.severity_id
    WHERE i.org_id = %s
"""
#: Who holds which role, as selectors.role_holders_by_incident reads it, but
#: inside the page's query: a JSON array of role_holder() columns in role order.
_ROLES_SQL = f"""
    (SELECT coalesce(json_agg(json_build_array(r.public_id, r.name, r.shortform, u.name, u.email,
        (SELECT m.public_id FROM {Membership._meta.db_table} m WHERE m.org_id = i.org_id AND m.user_id = a.user_id))
        ORDER BY r.rank, r.id), '[]')
     FROM {IncidentRoleAssignment._meta.db_table} a
     JOIN {IncidentRole._meta.db_table} r ON r.id = a.role_id
     JOIN {User._meta.db_table} u ON u.id = a.user_id
     WHERE a.incident_id = i.id) AS "roles"
"""


@cache
def _select(fields: tuple[str, ...]) -> str:
    """The page's ``SELECT … FROM … WHERE i.org_id = %s``; each list has one field list."""
    return "SELECT " + ", ".join(_column(f) for f in fields) + "," + _ROLES_SQL + FROM_INCIDENTS


def page_rows(org, *, fields: tuple[str, ...], where: str, params: list, before: int | None, limit: int) -> list[dict]:
    """Up to ``limit`` of the org's incidents matching ``where`` (`` AND …``
    conditions on ``i``, ``s`` and ``v`` with their ``params``), newest first,
    numbered below ``before``: dicts of ``fields`` (``values()`` names such as
    ``status__name``) plus ``roles``. Keyset on the (org, number) index."""
    if before is not None:
        where += " AND i.number < %s"
        params = [*params, before]
    with connection.cursor() as cursor:
        execute_hot(cursor, f"{_select(fields)}{where} ORDER BY i.number DESC LIMIT %s", [org.pk, *params, limit])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
