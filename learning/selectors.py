"""Reads of the learning flow, always through the organization."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from incidentio.models import IncidentStatus, StatusCategory
from learning.models import LearningTask, LifecycleRules, TaskState, TaskTemplate


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
    """The incident's tasks grouped by learning status, in flow order (two queries)."""
    tasks = list(
        LearningTask.objects.filter(incident=incident)
        .select_related("assignee", "status")  # what the incident page shows
        .order_by("status__rank", "status_id", "rank", "pk")
    )
    groups: dict[int, StatusTasks] = {}
    for task in tasks:
        group = groups.setdefault(
            task.status_id, StatusTasks(task.status, [], task.status_id == incident.status_id)
        )
        group.tasks.append(task)
    return list(groups.values())


@dataclass
class TaskPage:
    tasks: list[LearningTask]
    next_after: int | None


def my_tasks(*, org, user, state: str = TaskState.OUTSTANDING, status=None, after: int | None = None,
             page_size: int = 50) -> TaskPage:
    """A member's tasks across the org's incidents, newest first (keyset on id)."""
    queryset = LearningTask.objects.filter(org=org, assignee=user)
    if state:
        queryset = queryset.filter(state=state)
    if status is not None:
        queryset = queryset.filter(status=status)
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(
        # Only what the page shows: the task, its status, and its incident's
        # reference, name and current status id (not its relations).
        queryset.select_related("incident", "status")
        .only("pk", "title", "state", "status_id", "incident_id", "status__name",
              "incident__public_id", "incident__number", "incident__name", "incident__status_id")
        .order_by("-pk")[: page_size + 1]
    )
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
