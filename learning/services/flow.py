"""Entering the learning flow, advancing through it exactly once, opting out.

Exactly-once advance: every change that can finish a status holds the incident
row lock (``lock_incident``) while it writes, and the advance itself is a
compare-and-set under that lock — it moves the incident only if it is still
running the flow *in the status the caller saw finished*. Two people closing
the last two tasks at once, an event delivered twice, or the Celery task
running twice all end in one advance, one timeline event and one message.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from incidentio import limits
from incidentio.actors import Actor
from incidentio.errors import ServiceError
from incidentio.models import EventKind, Incident, IncidentStatus, LearningFlowState, StatusCategory, TimelineEvent
from incidentio.services.incidents import lock_incident
from incidentio.services.timeline import timeline_record
from learning import messages
from learning.models import LearningTask, TaskState, TaskTemplate
from learning.services.autocomplete import already_done
from slackbot.outbox import outbox_enqueue


def learning_statuses(org_id: int) -> list[IncidentStatus]:
    return list(IncidentStatus.objects.filter(org_id=org_id, category=StatusCategory.LEARNING).order_by("rank", "pk"))


def _closed_status(org_id: int) -> IncidentStatus:
    return IncidentStatus.objects.filter(org_id=org_id, category=StatusCategory.CLOSED).order_by("rank", "pk").first()


def _role_holder(incident: Incident, role):
    if role is None:
        return None
    assignment = incident.role_assignments.filter(role=role).select_related("user").first()
    return assignment.user if assignment else None


def create_tasks(incident: Incident, status: IncidentStatus) -> list[LearningTask]:
    """Snapshot the status's templates into tasks; work already done counts at once."""
    tasks = []
    for rank, template in enumerate(TaskTemplate.objects.filter(status=status).select_related("assignee_role", "target_role")):
        done = already_done(incident, template.kind, template.target_role)
        tasks.append(
            LearningTask(
                org_id=incident.org_id,
                incident=incident,
                status=status,
                template=template,
                title=template.title,
                instructions=template.instructions,
                kind=template.kind,
                required=template.required,
                target_role=template.target_role,
                assignee_role=template.assignee_role,
                assignee=_role_holder(incident, template.assignee_role),
                rank=rank,
                state=TaskState.COMPLETED if done else TaskState.OUTSTANDING,
                completed_automatically=done,
                addressed_at=timezone.now() if done else None,
            )
        )
    return LearningTask.objects.bulk_create(tasks)


def _post_tasks(incident: Incident, status: IncidentStatus, tasks: list[LearningTask]) -> None:
    text, blocks = messages.tasks_posted(incident, status, tasks)
    # The dedupe key names the incident *and* the status: a repeated advance
    # into the same status cannot queue the message twice.
    outbox_enqueue(
        org=incident.org, incident=incident, kind="learning.tasks_posted", text=text, blocks=blocks,
        dedupe_key=f"learning.tasks_posted:{incident.pk}:{status.pk}",
    )
    # One DM per person with all of their new tasks, not one per task.
    by_assignee: dict[int, list[LearningTask]] = {}
    for task in tasks:
        if task.assignee_id and task.is_outstanding:
            by_assignee.setdefault(task.assignee_id, []).append(task)
    for assigned in by_assignee.values():
        notify_assignee(assigned, incident)


def notify_assignee(tasks: LearningTask | list[LearningTask], incident: Incident) -> None:
    """Tell the assignee of ``tasks`` (one person) that they are theirs now."""
    tasks = tasks if isinstance(tasks, list) else [tasks]
    outbox_enqueue(
        org=incident.org, incident=incident, kind="learning.task_assigned",
        text=messages.tasks_assigned(tasks, incident), destination=f"dm:{tasks[0].assignee_id}",
        data={"task_ids": [str(task.public_id) for task in tasks]},
    )


def status_finished(incident: Incident) -> bool:
    """All required tasks of the incident's current learning status are addressed."""
    return not LearningTask.objects.filter(
        incident=incident, status_id=incident.status_id, required=True, state=TaskState.OUTSTANDING
    ).exists()


def schedule_advance_if_finished(incident: Incident) -> None:
    """Call with the incident locked, after a task change: advance after commit."""
    if incident.learning_flow != LearningFlowState.RUNNING or not status_finished(incident):
        return
    from learning.tasks import advance_incident

    incident_id, status_id = incident.pk, incident.status_id
    # robust: with Redis down the task change still stands (and the request
    # succeeds); the repair_stuck_incidents beat advances the incident later.
    transaction.on_commit(lambda: advance_incident.delay(incident_id, status_id), robust=True)


def enter(incident: Incident, actor: Actor) -> None:
    """Move a (locked) live incident into its first learning status."""
    first = learning_statuses(incident.org_id)[0]
    now = timezone.now()
    incident.status = first
    incident.learning_flow = LearningFlowState.RUNNING
    incident.resolved_at = incident.resolved_at or now
    incident.save(update_fields=["status", "learning_flow", "resolved_at", "updated_at"])
    timeline_record(incident=incident, kind=EventKind.CLOSED, actor=actor, text="Incident closed", occurred_at=now)
    tasks = create_tasks(incident, first)
    timeline_record(
        incident=incident, kind=EventKind.LEARNING_FLOW_ENTERED, actor=actor,
        text=f"Learning flow started: {first.name} ({len(tasks)} task{'s' if len(tasks) != 1 else ''})",
        data={"status": first.name, "status_id": str(first.public_id)},
    )
    _post_tasks(incident, first, tasks)
    schedule_advance_if_finished(incident)


def _finish_outstanding(incident: Incident, reason: str) -> None:
    LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING).update(
        state=TaskState.NOT_DOING, not_doing_reason=reason, addressed_at=timezone.now()
    )


def _visited_learning_statuses(incident: Incident) -> set[str]:
    """Public ids of the learning statuses the incident has been in, from its timeline.

    An admin may reorder the statuses while incidents are in the flow; an
    incident never goes back into a status it has already been through (it
    would get a second set of tasks and leave that status twice).
    """
    events = TimelineEvent.objects.filter(
        incident=incident, kind__in=[EventKind.LEARNING_FLOW_ENTERED, EventKind.LEARNING_STATUS_CHANGED]
    ).values_list("data", flat=True)
    return {data.get("status_id") or data.get("to_id") for data in events} - {None}


@transaction.atomic
def learning_advance(*, incident_id: int, from_status_id: int) -> bool:
    """Advance the incident out of ``from_status_id`` if that status is finished.

    Idempotent: returns False (changing nothing) when the incident already
    moved on, left the flow, or still has outstanding required tasks.
    """
    try:
        incident = lock_incident(Incident(pk=incident_id))
    except Incident.DoesNotExist:
        return False
    if (
        incident.learning_flow != LearningFlowState.RUNNING
        or incident.status_id != from_status_id
        or not status_finished(incident)
    ):
        return False
    system = Actor.system()
    # Optional tasks left open do not hold the incident back; they are closed off.
    LearningTask.objects.filter(incident=incident, status_id=from_status_id, state=TaskState.OUTSTANDING).update(
        state=TaskState.NOT_DOING, not_doing_reason="Optional; left open when the incident moved on.",
        addressed_at=timezone.now(),
    )
    statuses = learning_statuses(incident.org_id)
    current = incident.status
    visited = _visited_learning_statuses(incident)
    later = [s for s in statuses if (s.rank, s.pk) > (current.rank, current.pk) and str(s.public_id) not in visited]
    if later:
        following = later[0]
        incident.status = following
        incident.save(update_fields=["status", "updated_at"])
        tasks = create_tasks(incident, following)
        timeline_record(
            incident=incident, kind=EventKind.LEARNING_STATUS_CHANGED, actor=system,
            text=f"Every task of {current.name} is addressed: moved to {following.name}",
            data={"from": current.name, "to": following.name, "to_id": str(following.public_id)},
        )
        _post_tasks(incident, following, tasks)
        schedule_advance_if_finished(incident)
        return True
    incident.status = _closed_status(incident.org_id)
    incident.learning_flow = LearningFlowState.COMPLETED
    incident.closed_at = timezone.now()
    incident.save(update_fields=["status", "learning_flow", "closed_at", "updated_at"])
    timeline_record(
        incident=incident, kind=EventKind.LEARNING_FLOW_COMPLETED, actor=system,
        text=f"Every task of {current.name} is addressed: the learning flow is complete and the incident is closed",
        data={"from": current.name},
    )
    outbox_enqueue(
        org=incident.org, incident=incident, kind="learning.completed", text=messages.flow_completed(incident),
        dedupe_key=f"learning.completed:{incident.pk}",
    )
    return True


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the learning flow is skipped; the reason is kept and shared.", field="opt_out_reason")
    return limits.check_length(reason, limit=limits.REASON, field="opt_out_reason", what="the reason")


def opt_out(incident: Incident, actor: Actor, reason: str, *, closing: bool) -> None:
    """Close a locked incident without (the rest of) the learning flow."""
    reason = clean_reason(reason)
    now = timezone.now()
    was = incident.status
    incident.status = _closed_status(incident.org_id)
    incident.learning_flow = LearningFlowState.OPTED_OUT
    incident.opt_out_reason = reason
    incident.opted_out_by = actor.user
    incident.resolved_at = incident.resolved_at or now
    incident.closed_at = now
    incident.save(update_fields=[
        "status", "learning_flow", "opt_out_reason", "opted_out_by", "resolved_at", "closed_at", "updated_at",
    ])
    if closing:
        timeline_record(incident=incident, kind=EventKind.CLOSED, actor=actor, text="Incident closed", occurred_at=now)
    else:
        _finish_outstanding(incident, "The learning flow was opted out of.")
    timeline_record(
        incident=incident, kind=EventKind.LEARNING_FLOW_OPTED_OUT, actor=actor, text=reason,
        data={"reason": reason, "from": was.name},
    )
    who = actor.user.display_name if actor.user else actor.label or "someone"
    outbox_enqueue(
        org=incident.org, incident=incident, kind="learning.opted_out", text=messages.opted_out(incident, reason, who),
        dedupe_key=f"learning.opted_out:{incident.pk}",
    )


@transaction.atomic
def learning_opt_out(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Leave a running learning flow, with a reason; the incident goes to Closed."""
    reason = clean_reason(reason)
    incident = lock_incident(incident)
    if incident.learning_flow != LearningFlowState.RUNNING:
        raise ServiceError(f"{incident.reference} is not in the learning flow.")
    opt_out(incident, actor, reason, closing=False)
    return incident
