"""Built-in task kinds complete themselves when their event happens anywhere in
the product — dashboard, API or Slack — because every one of those writes a
timeline event through ``timeline_record``, which calls ``on_timeline_event``.

A fact that came first (a post-mortem written during the incident) counts when
the task is created: ``already_done`` asks the incident's state, not the log.
Completing is idempotent: only outstanding tasks change.
"""

from __future__ import annotations

from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    Debrief,
    EventKind,
    FollowUp,
    IncidentRoleAssignment,
    LearningFlowState,
    Postmortem,
    PostmortemStatus,
)
from learning.models import LearningTask, TaskKind, TaskState

# Event → task kind it completes (assign_role is matched on the role too).
_EVENT_KINDS = {
    EventKind.POSTMORTEM_CREATED: TaskKind.CREATE_POSTMORTEM,
    EventKind.POSTMORTEM_SHARED: TaskKind.SHARE_POSTMORTEM,
    EventKind.DEBRIEF_SCHEDULED: TaskKind.SCHEDULE_DEBRIEF,
    EventKind.FOLLOW_UP_CREATED: TaskKind.CREATE_FOLLOW_UPS,
    EventKind.ROLE_ASSIGNED: TaskKind.ASSIGN_ROLE,
}

_WHY = {
    TaskKind.CREATE_POSTMORTEM: "a post-mortem was created",
    TaskKind.COMPLETE_POSTMORTEM: "the post-mortem was marked completed",
    TaskKind.SHARE_POSTMORTEM: "the post-mortem was shared",
    TaskKind.SCHEDULE_DEBRIEF: "a debrief was scheduled",
    TaskKind.CREATE_FOLLOW_UPS: "a follow-up was created",
    TaskKind.ASSIGN_ROLE: "the role was assigned",
}


def already_done(incident, kind: str, target_role=None) -> bool:
    """Whether the work a task of ``kind`` asks for has already happened."""
    if kind == TaskKind.CREATE_POSTMORTEM:
        return Postmortem.objects.filter(incident=incident).exists()
    if kind == TaskKind.COMPLETE_POSTMORTEM:
        return Postmortem.objects.filter(incident=incident, status=PostmortemStatus.COMPLETED).exists()
    if kind == TaskKind.SHARE_POSTMORTEM:
        return Postmortem.objects.filter(incident=incident, shared_at__isnull=False).exists()
    if kind == TaskKind.SCHEDULE_DEBRIEF:
        return Debrief.objects.filter(incident=incident).exists()
    if kind == TaskKind.CREATE_FOLLOW_UPS:
        return FollowUp.objects.filter(incident=incident).exists()
    if kind == TaskKind.ASSIGN_ROLE:
        return target_role is not None and IncidentRoleAssignment.objects.filter(
            incident=incident, role=target_role
        ).exists()
    return False


def _kind_for(event) -> str | None:
    if event.kind == EventKind.POSTMORTEM_STATUS_CHANGED:
        return TaskKind.COMPLETE_POSTMORTEM if event.data.get("to") == PostmortemStatus.COMPLETED else None
    return _EVENT_KINDS.get(event.kind)


def on_timeline_event(event) -> None:
    """A timeline reaction (settings.TIMELINE_REACTIONS); runs in the event's transaction,
    before any notifier (Slack, webhooks).

    The service that wrote the event holds the incident row lock.
    """
    incident = event.incident
    if event.kind == EventKind.ROLE_ASSIGNED:
        _follow_role(incident, event)
    if incident.learning_flow != LearningFlowState.RUNNING:
        return
    kind = _kind_for(event)
    if kind is None:
        return
    tasks = LearningTask.objects.filter(
        incident=incident, status_id=incident.status_id, kind=kind, state=TaskState.OUTSTANDING
    )
    if kind == TaskKind.ASSIGN_ROLE:
        tasks = tasks.filter(target_role__public_id=event.data.get("role_id"))
    completed = list(tasks)
    if not completed:
        return
    from incidentio.incidents.services.timeline import timeline_record
    from learning.services.flow import schedule_advance_if_finished

    now = timezone.now()
    for task in completed:
        task.state = TaskState.COMPLETED
        task.completed_automatically = True
        task.addressed_at = now
        task.addressed_by = None
        task.save(update_fields=["state", "completed_automatically", "addressed_at", "addressed_by"])
        timeline_record(
            incident=incident, kind=EventKind.TASK_COMPLETED, actor=Actor.system(),
            text=f"“{task.title}” completed automatically: {_WHY[kind]}",
            data={"task_id": str(task.public_id), "automatic": True},
        )
    schedule_advance_if_finished(incident)


def _follow_role(incident, event) -> None:
    """Tasks that follow a role go to its new holder, unless assigned by hand."""
    from learning.services.flow import notify_assignee

    user_id = event.data.get("user_id")
    tasks = list(
        LearningTask.objects.filter(
            incident=incident, assignee_role__public_id=event.data.get("role_id"),
            assigned_manually=False, state=TaskState.OUTSTANDING,
        ).exclude(assignee_id=user_id)
    )
    for task in tasks:
        task.assignee_id = user_id
        task.save(update_fields=["assignee"])
    if tasks:
        notify_assignee(tasks, incident)  # one DM with all of them
