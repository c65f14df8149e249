"""People acting on learning tasks: complete, not doing, reopen, assign."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import EventKind, LearningFlowState
from incidentio.incidents.services.incidents import lock_incident
from incidentio.incidents.services.timeline import timeline_record
from learning.models import LearningTask, TaskState
from learning.services.flow import notify_assignee, schedule_advance_if_finished
from orgs.models import Membership


def _locked(task: LearningTask) -> tuple[LearningTask, object]:
    """The task and its incident, with the incident row locked (see flow.py)."""
    incident = lock_incident(task.incident)
    task = LearningTask.objects.select_for_update().get(pk=task.pk)
    return task, incident


def _require_current(task: LearningTask, incident) -> None:
    if incident.learning_flow != LearningFlowState.RUNNING or task.status_id != incident.status_id:
        raise ServiceError(
            f"“{task.title}” belongs to a learning status {incident.reference} has already left; it cannot change now."
        )


@transaction.atomic
def task_complete(*, task: LearningTask, actor: Actor) -> LearningTask:
    task, incident = _locked(task)
    if task.state == TaskState.COMPLETED:
        return task  # the same click twice: one completion
    _require_current(task, incident)
    task.state = TaskState.COMPLETED
    task.not_doing_reason = ""
    task.addressed_at = timezone.now()
    task.addressed_by = actor.user
    task.completed_automatically = False
    task.save(update_fields=["state", "not_doing_reason", "addressed_at", "addressed_by", "completed_automatically"])
    timeline_record(incident=incident, kind=EventKind.TASK_COMPLETED, actor=actor, text=f"“{task.title}” completed",
                    data={"task_id": str(task.public_id)})
    schedule_advance_if_finished(incident)
    return task


@transaction.atomic
def task_not_doing(*, task: LearningTask, actor: Actor, reason: str = "") -> LearningTask:
    reason = limits.check_length((reason or "").strip(), limit=limits.REASON, field="reason", what="the reason")
    task, incident = _locked(task)
    if task.state == TaskState.NOT_DOING:
        return task
    _require_current(task, incident)
    task.state = TaskState.NOT_DOING
    task.not_doing_reason = reason
    task.addressed_at = timezone.now()
    task.addressed_by = actor.user
    task.save(update_fields=["state", "not_doing_reason", "addressed_at", "addressed_by"])
    text = f"“{task.title}” marked not doing" + (f": {reason}" if reason else "")
    timeline_record(incident=incident, kind=EventKind.TASK_NOT_DOING, actor=actor, text=text,
                    data={"task_id": str(task.public_id), "reason": reason})
    schedule_advance_if_finished(incident)
    return task


@transaction.atomic
def task_reopen(*, task: LearningTask, actor: Actor) -> LearningTask:
    task, incident = _locked(task)
    if task.state == TaskState.OUTSTANDING:
        return task
    _require_current(task, incident)
    task.state = TaskState.OUTSTANDING
    task.not_doing_reason = ""
    task.addressed_at = None
    task.addressed_by = None
    task.completed_automatically = False
    task.save(update_fields=["state", "not_doing_reason", "addressed_at", "addressed_by", "completed_automatically"])
    timeline_record(incident=incident, kind=EventKind.TASK_REOPENED, actor=actor, text=f"“{task.title}” reopened",
                    data={"task_id": str(task.public_id)})
    return task


@transaction.atomic
def task_assign(*, task: LearningTask, actor: Actor, user) -> LearningTask:
    """Assign by hand (or unassign with ``user=None``): the task stops following its role."""
    if user is not None and not Membership.objects.filter(org_id=task.org_id, user=user).exists():
        raise ServiceError(f"{user.email} is not a member.", field="assignee")
    task, incident = _locked(task)
    if task.state != TaskState.OUTSTANDING:
        raise ServiceError(f"“{task.title}” is already addressed; reopen it to reassign.", field="assignee")
    task.assigned_manually = True
    if task.assignee_id == (user.pk if user else None):
        task.save(update_fields=["assigned_manually"])
        return task
    task.assignee = user
    task.save(update_fields=["assignee", "assigned_manually"])
    text = f"“{task.title}” assigned to {user.display_name}" if user else f"“{task.title}” unassigned"
    timeline_record(incident=incident, kind=EventKind.TASK_ASSIGNED, actor=actor, text=text,
                    data={"task_id": str(task.public_id), "user_id": user.pk if user else None})
    if user is not None:
        notify_assignee(task, incident)
    return task
