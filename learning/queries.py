"""The learning app's hand-written SQL: the incident page's tasks panel, and
the live incident page's version (which reads the incident core's and this
app's tables together, so it lives here, above both).

Prepared statements (:func:`~incidentio.common.db.execute_hot`) because the
ORM spent more building it on every view of an incident than Postgres spends
answering. Everything else reads through the ORM (``selectors.py``).
"""

from __future__ import annotations

from django.db import connection

from incidentio.common.db import execute_hot, model_columns, model_from_row, model_width
from incidentio.incidents.models import FollowUp, Incident, IncidentStatus
from incidentio.incidents.queries import INCIDENT_PAGE_DIGEST_SQL, incident_page_params
from learning.models import LearningFlow, LearningFlowStatus, LearningRun, LearningTask, LifecycleRules, TaskTemplate
from orgs.models import User

# Measured: 2.4 → 0.75 ms per incident page (tasks with their status and assignee).
_NO_PASSWORD = ("password",)
_TASK_WIDTH = model_width(LearningTask)
_STATUS_WIDTH = model_width(IncidentStatus)
_INCIDENT_TASKS_SQL = f"""
SELECT {model_columns(LearningTask, "t")}, {model_columns(IncidentStatus, "s")},
    {model_columns(User, "u", _NO_PASSWORD)}
FROM {LearningTask._meta.db_table} t
JOIN {IncidentStatus._meta.db_table} s ON s.id = t.status_id
LEFT JOIN {User._meta.db_table} u ON u.id = t.assignee_id
WHERE t.incident_id = %s
ORDER BY s.rank, t.status_id, t.rank, t.id
"""


def incident_tasks(incident_id: int) -> list[LearningTask]:
    """The incident's tasks in flow order, each with ``status`` and ``assignee`` loaded
    (one ``IncidentStatus`` instance per status)."""
    with connection.cursor() as cursor:
        execute_hot(cursor, _INCIDENT_TASKS_SQL, [incident_id])
        rows = cursor.fetchall()
    statuses: dict[int, IncidentStatus] = {}
    tasks = []
    for row in rows:
        task = model_from_row(LearningTask, row[:_TASK_WIDTH])
        status_id = task.status_id
        if status_id not in statuses:
            statuses[status_id] = model_from_row(IncidentStatus, row[_TASK_WIDTH:_TASK_WIDTH + _STATUS_WIDTH])
        task.status = statuses[status_id]
        user = row[_TASK_WIDTH + _STATUS_WIDTH:]
        task.assignee = None if user[0] is None else model_from_row(User, user, _NO_PASSWORD)
        tasks.append(task)
    return tasks


# --- The live incident page's version ------------------------------------------------------------
# The incident page polls for changes (``incidentio.common.live``); each poll
# asks this one statement whether anything the page shows has changed. It is
# made of what the page reads: the incident page's own statement, hashed
# (``INCIDENT_PAGE_DIGEST_SQL``: the incident, its status, severity, type,
# post-mortem, role holders, follow-ups, debriefs and the org's choices), and
# what the learning panel and the close prompt read beside it: the tasks with
# their status and assignee, the type's lifecycle rules and the org's flows
# with their statuses, the flow the incident runs, and the org's task
# templates (a status to come says how many tasks it brings). Rows are hashed whole, so a deleted row, a changed
# column or a new one changes the digest, whichever service or surface wrote
# it. The counts of due dates passed turn "Due …" into "Overdue …" when that
# moment comes. The timeline is in the incident's row: ``timeline_version``.
_INCIDENT_PAGE_VERSION_SQL = f"""
WITH inc AS (
    SELECT id, org_id, incident_type_id FROM {Incident._meta.db_table} WHERE org_id = %s AND public_id = %s
)
SELECT md5(concat_ws('|',
    ({INCIDENT_PAGE_DIGEST_SQL}),
    (SELECT md5(coalesce(string_agg(row(t.*, s.name, s.rank, u.name, u.email)::text, ',' ORDER BY t.id), ''))
     FROM {LearningTask._meta.db_table} t
     JOIN {IncidentStatus._meta.db_table} s ON s.id = t.status_id
     LEFT JOIN {User._meta.db_table} u ON u.id = t.assignee_id
     WHERE t.incident_id = inc.id),
    (SELECT r::text FROM {LifecycleRules._meta.db_table} r WHERE r.incident_type_id = inc.incident_type_id),
    (SELECT md5(coalesce(string_agg(row(f.id, f.name, f.is_default, fs.id, fs.rank, fs.status_id, st.name)::text,
                                    ',' ORDER BY f.id, fs.id), ''))
     FROM {LearningFlow._meta.db_table} f
     LEFT JOIN {LearningFlowStatus._meta.db_table} fs ON fs.flow_id = f.id
     LEFT JOIN {IncidentStatus._meta.db_table} st ON st.id = fs.status_id
     WHERE f.org_id = inc.org_id),
    (SELECT md5(coalesce(string_agg(row(tt.id, tt.flow_id, tt.status_id)::text, ',' ORDER BY tt.id), ''))
     FROM {TaskTemplate._meta.db_table} tt WHERE tt.org_id = inc.org_id),
    (SELECT r.flow_id FROM {LearningRun._meta.db_table} r WHERE r.incident_id = inc.id),
    (SELECT count(*) FROM {LearningTask._meta.db_table} t WHERE t.incident_id = inc.id AND t.due_at <= now()),
    (SELECT count(*) FROM {FollowUp._meta.db_table} f WHERE f.incident_id = inc.id AND f.due_at <= now())
))
FROM inc
"""


def incident_page_version(org, public_id) -> str | None:
    """A digest of everything the org's incident page shows of the incident
    with that public id (see above), in one prepared statement; None when the
    org has no such incident."""
    with connection.cursor() as cursor:
        execute_hot(cursor, _INCIDENT_PAGE_VERSION_SQL,
                    [org.pk, str(public_id), *incident_page_params(org, public_id)])
        row = cursor.fetchone()
    return row[0] if row else None
