"""Reads of the learning flow, always through the organization."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from incidentio.common.db import execute_hot, model_columns, model_from_row, model_width
from incidentio.incidents.models import IncidentStatus, StatusCategory
from learning.models import LearningTask, LifecycleRules, TaskState, TaskTemplate
from orgs.models import User


def _get(queryset: QuerySet, public_id, what: str):
    try:
        return queryset.get(public_id=public_id)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404(f"No such {what}.") from None


def task_get(*, org, public_id) -> LearningTask:
    return _get(LearningTask.objects.filter(org=org).select_related("incident", "status"), public_id, "task")


def task_get_for_incident(*, incident, public_id) -> LearningTask:
    return _get(LearningTask.objects.filter(incident=incident).select_related("incident", "status"), public_id, "task")


def template_get(*, org, public_id) -> TaskTemplate:
    return _get(TaskTemplate.objects.filter(org=org).select_related("status", "org"), public_id, "task template")


def learning_status_list(*, org) -> list[IncidentStatus]:
    return list(IncidentStatus.objects.filter(org=org, category=StatusCategory.LEARNING).order_by("rank", "pk"))


@dataclass
class StatusTasks:
    status: IncidentStatus
    tasks: list[LearningTask]
    is_current: bool


def incident_tasks(*, incident) -> list[StatusTasks]:
    """The incident's tasks grouped by learning status, in flow order, with
    their status and assignee: one prepared statement (the incident page's;
    the ORM spent more building it than Postgres answering)."""
    tasks = _incident_tasks_sql(incident.pk)
    groups: dict[int, StatusTasks] = {}
    for task in tasks:
        group = groups.setdefault(
            task.status_id, StatusTasks(task.status, [], task.status_id == incident.status_id)
        )
        group.tasks.append(task)
    return list(groups.values())


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


def _incident_tasks_sql(incident_id: int) -> list[LearningTask]:
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


@dataclass(slots=True)
class TaskRow:
    """One line of "My tasks": what the page shows of a task and its incident."""

    pk: int
    title: str
    state: str
    status_id: int
    status_name: str
    incident_id: int
    incident_public_id: UUID
    incident_number: int
    incident_name: str
    incident_status_id: int

    @property
    def incident_reference(self) -> str:
        return f"INC-{self.incident_number}"  # as Incident.reference

    @property
    def state_label(self) -> str:
        return TaskState(self.state).label

    @property
    def is_current(self) -> bool:
        """The task belongs to the learning status its incident is in now."""
        return self.status_id == self.incident_status_id


@dataclass
class TaskPage:
    tasks: list[TaskRow]
    next_after: int | None


def my_tasks(*, org, user, state: str = TaskState.OUTSTANDING, status=None, after: int | None = None,
             page_size: int = 50) -> TaskPage:
    """A member's tasks across the org's incidents, newest first (keyset on id).

    Rows, not model instances: the page shows ten values per task, and
    building 50 tasks with their incident and status as models cost more than
    the query (docs/performance.md)."""
    queryset = LearningTask.objects.filter(org=org, assignee=user)
    if state:
        queryset = queryset.filter(state=state)
    if status is not None:
        queryset = queryset.filter(status=status)
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = [
        TaskRow(*values)
        for values in queryset.order_by("-pk").values_list(
            "pk", "title", "state", "status_id", "status__name", "incident_id",
            "incident__public_id", "incident__number", "incident__name", "incident__status_id",
        )[: page_size + 1]
    ]
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return TaskPage(rows, rows[-1].pk if has_more and rows else None)


def flow_configuration(*, org) -> list[tuple[IncidentStatus, list[TaskTemplate]]]:
    statuses = learning_status_list(org=org)
    templates = list(
        TaskTemplate.objects.filter(org=org).select_related("assignee_role", "target_role").order_by("rank", "pk")
    )
    by_status: dict[int, list[TaskTemplate]] = {s.pk: [] for s in statuses}
    for template in templates:
        by_status.setdefault(template.status_id, []).append(template)
    return [(status, by_status[status.pk]) for status in statuses]


def rules_get(*, org) -> LifecycleRules:
    rules, _ = LifecycleRules.objects.select_related("auto_enter_min_severity").get_or_create(org=org)
    return rules
