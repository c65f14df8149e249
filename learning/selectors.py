"""Reads of the learning flow, always through the organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count
from django.http import Http404

from incidentio.api.pagination import due_keyset, due_ordering
from incidentio.common.lookups import get_or_404
from incidentio.incidents.models import IncidentStatus, IncidentType, LearningFlowState, StatusCategory
from learning import queries
from learning.models import LearningFlow, LearningFlowStatus, LearningTask, LifecycleRules, TaskState, TaskTemplate


def task_get(*, org, public_id) -> LearningTask:
    return get_or_404(LearningTask.objects.filter(org=org).select_related("incident", "status"), "task", public_id=public_id)


def task_get_for_incident(*, incident, public_id) -> LearningTask:
    return get_or_404(LearningTask.objects.filter(incident=incident).select_related("incident", "status"), "task", public_id=public_id)


def reminder_item_get(*, org, ref):
    """The task or follow-up a reminder is about, from its ``task:<id>`` /
    ``follow_up:<id>`` (``learning.reminder_messages.item_ref``); another org's, a
    missing one and a malformed reference are the same 404."""
    from incidentio.incidents.models import FollowUp

    kind, _, public_id = (ref if isinstance(ref, str) else "").partition(":")
    if kind == "task":
        return task_get(org=org, public_id=public_id)
    queryset = FollowUp.objects.filter(incident__org=org) if kind == "follow_up" else FollowUp.objects.none()
    return get_or_404(queryset.select_related("incident", "incident__org"), "follow-up", public_id=public_id)


def template_get(*, org, public_id) -> TaskTemplate:
    return get_or_404(TaskTemplate.objects.filter(org=org).select_related("status", "org"), "task template", public_id=public_id)


def learning_status_list(*, org) -> list[IncidentStatus]:
    return list(IncidentStatus.objects.filter(org=org, category=StatusCategory.LEARNING).order_by("rank", "pk"))


@dataclass
class StatusTasks:
    """One learning status of an incident's flow, as its panel shows it."""

    status: IncidentStatus
    tasks: list[LearningTask]
    is_current: bool
    #: "done" (left behind), "current", or "upcoming" (not reached yet: no tasks yet).
    stage: str = "done"
    #: An upcoming status: how many tasks it will bring (its templates in the flow).
    upcoming_task_count: int = 0
    is_next: bool = False

    @property
    def done_count(self) -> int:
        """Tasks addressed: completed, or marked not doing (either lets the incident move on)."""
        return sum(1 for task in self.tasks if task.state != TaskState.OUTSTANDING)

    @property
    def total(self) -> int:
        return len(self.tasks)


def incident_tasks(*, incident) -> list[StatusTasks]:
    """The incident's tasks grouped by learning status, in flow order, with
    their status and assignee: one prepared statement (``queries.incident_tasks``)."""
    tasks = queries.incident_tasks(incident.pk)
    groups: dict[int, StatusTasks] = {}
    for task in tasks:
        is_current = task.status_id == incident.status_id
        group = groups.setdefault(
            task.status_id, StatusTasks(task.status, [], is_current, stage="current" if is_current else "done")
        )
        group.tasks.append(task)
    return list(groups.values())


def incident_progress(*, incident) -> list[StatusTasks]:
    """Every status of the incident's learning flow, for its panel: those it went
    through and its current one with their tasks (``incident_tasks``), then —
    while the flow runs — the ones still to come, in the order it will take them
    (``flow.upcoming_steps``), each with how many tasks it will bring. A
    finished or opted-out flow has nothing to come."""
    from learning.services import flow

    groups = incident_tasks(incident=incident)
    if incident.learning_flow != LearningFlowState.RUNNING:
        return groups
    flow_id = flow.run_flow_id(incident)
    steps = flow.flow_steps(flow_id)
    current = next((step for step in steps if step.pk == incident.status_id), incident.status)
    if not any(group.is_current for group in groups):
        # The current status brought no tasks: show it all the same, as where the incident is.
        groups.append(StatusTasks(current, [], True, stage="current"))
    upcoming = flow.upcoming_steps(steps, current, flow.visited_steps(incident))
    counts = dict(
        TaskTemplate.objects.filter(flow_id=flow_id, status__in=upcoming)
        .values("status").annotate(count=Count("pk")).values_list("status", "count")
    )
    groups += [
        StatusTasks(status, [], False, stage="upcoming", upcoming_task_count=counts.get(status.pk, 0),
                    is_next=index == 0)
        for index, status in enumerate(upcoming)
    ]
    return groups
def incident_page_version(*, org, public_id) -> str:
    """A digest of what the org's incident page shows of that incident (its
    own read, the learning panel's and the close prompt's, hashed in one
    statement: ``queries.incident_page_version``); the live page compares it
    with the one it was rendered at. Another org's incident is a 404."""
    digest = queries.incident_page_version(org, public_id)
    if digest is None:
        raise Http404("No such incident.")
    return digest


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
    due_at: datetime | None

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
    next_after: Any  # the last row's key: an id, or [due_at ISO or None, id] by due date


#: The orders of "My tasks": newest first (keyset on id), or by due date, soonest first and
#: tasks without one last (keyset on (due_at, id)).
MY_TASKS_SORTS = ("newest", "due")


def my_tasks(*, org, user, state: str = TaskState.OUTSTANDING, status=None, after=None,
             page_size: int = 50, sort: str = "newest") -> TaskPage:
    """A member's tasks across the org's incidents, newest first or by due date
    (``sort="due"``); ``after`` is the ``next_after`` of the previous page.

    Rows, not model instances: the page shows ten values per task, and
    building 50 tasks with their incident and status as models cost more than
    the query (docs/performance.md)."""
    queryset = LearningTask.objects.filter(org=org, assignee=user)
    if state:
        queryset = queryset.filter(state=state)
    if status is not None:
        queryset = queryset.filter(status=status)
    if sort == "due":
        cursor = None if after is None else (datetime.fromisoformat(after[0]) if after[0] else None, after[1])
        queryset = queryset.filter(due_keyset(cursor, descending=False)).order_by(*due_ordering(descending=False))
    else:
        if after is not None:
            queryset = queryset.filter(pk__lt=after)
        queryset = queryset.order_by("-pk")
    rows = [
        TaskRow(*values)
        for values in queryset.values_list(
            "pk", "title", "state", "status_id", "status__name", "incident_id",
            "incident__public_id", "incident__number", "incident__name", "incident__status_id", "due_at",
        )[: page_size + 1]
    ]
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    next_after = None
    if has_more and rows:
        last = rows[-1]
        next_after = [last.due_at.isoformat() if last.due_at else None, last.pk] if sort == "due" else last.pk
    return TaskPage(rows, next_after)


def flow_get(*, org, public_id) -> LearningFlow:
    return get_or_404(LearningFlow.objects.filter(org=org), "learning flow", public_id=public_id)


def incident_type_get(*, org, public_id) -> IncidentType:
    return get_or_404(IncidentType.objects.filter(org=org), "incident type", public_id=public_id)


@dataclass
class FlowStep:
    status: IncidentStatus
    templates: list[TaskTemplate]


@dataclass
class FlowConfiguration:
    flow: LearningFlow
    steps: list[FlowStep]


def flows_configuration(*, org) -> list[FlowConfiguration]:
    """Every flow of the org (the default first, then by name), each with its
    statuses in order and their templates in order: three queries."""
    flows = list(LearningFlow.objects.filter(org=org))
    steps = LearningFlowStatus.objects.filter(flow__org=org).select_related("status")
    templates = TaskTemplate.objects.filter(org=org).select_related("assignee_role", "target_role")
    by_pair: dict[tuple[int, int], list[TaskTemplate]] = {}
    for template in templates.order_by("rank", "pk"):
        by_pair.setdefault((template.flow_id, template.status_id), []).append(template)
    by_flow: dict[int, list[FlowStep]] = {flow.pk: [] for flow in flows}
    for step in steps.order_by("rank", "pk"):
        by_flow[step.flow_id].append(FlowStep(step.status, by_pair.get((step.flow_id, step.status_id), [])))
    return [FlowConfiguration(flow, by_flow[flow.pk]) for flow in flows]


def type_rules(*, org) -> list[tuple[IncidentType, LifecycleRules | None]]:
    """Every incident type of the org (in its order) with its lifecycle rules, if it has any yet."""
    rules = {
        r.incident_type_id: r
        for r in LifecycleRules.objects.filter(org=org).select_related("learning_flow", "auto_enter_min_severity")
    }
    return [(t, rules.get(t.pk)) for t in IncidentType.objects.filter(org=org)]


def default_incident_type(*, org) -> IncidentType:
    return IncidentType.objects.get(org=org, is_default=True)


def default_flow(*, org) -> LearningFlow:
    return LearningFlow.objects.get(org=org, is_default=True)

