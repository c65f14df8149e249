"""The learning flow's state machine, in one place: closing an incident (into
the flow or not), entering, advancing exactly once, opting out, and the repair
sweep that advances incidents whose advance job was lost.

``Incident.learning_flow`` (``LearningFlowState``) only changes here.

Which statuses: an incident runs one ``LearningFlow``, chosen by its type's
rules when it enters and kept in its ``LearningRun``; it goes through that
flow's steps (``LearningFlowStatus``) in rank order, and each status's tasks
are the templates of that flow and status. Changing the incident's type, or
the type's flow, later does not move it to another flow.

Exactly-once advance: every change that can finish a status holds the incident
row lock (``lock_incident``) while it writes, and the advance itself is a
compare-and-set under that lock — it moves the incident only if it is still
running the flow *in the status the caller saw finished*. Two people closing
the last two tasks at once, an event delivered twice, or the Celery task
running twice all end in one advance, one timeline event and one message.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import EventKind, Incident, IncidentStatus, LearningFlowState, StatusCategory
from incidentio.incidents.services.incidents import lock_incident
from incidentio.incidents.services.timeline import timeline_record
from learning import messages
from learning.messages import FLOW_COMPLETED, FLOW_OPTED_OUT, TASK_ASSIGNED, TASKS_POSTED
from learning.models import (
    LearningFlow,
    LearningFlowStatus,
    LearningRun,
    LearningStatusVisit,
    LearningTask,
    TaskState,
    TaskTemplate,
)
from learning.services.autocomplete import already_done
from learning.services.due_dates import set_task_due_dates
from learning.services.rules import FlowDecision, decide, entry_flow
from slackbot.outbox import outbox_enqueue

#: How many stuck incidents one repair sweep advances at most.
REPAIR_BATCH = 500


class LearningFlowChoice:
    """What whoever closes an incident chose for its learning flow."""

    RUN = "run"
    OPT_OUT = "opt_out"
    VALUES = (RUN, OPT_OUT)


def flow_steps(flow_id: int) -> list[IncidentStatus]:
    """The learning statuses of a flow, in its order."""
    return [step.status for step in LearningFlowStatus.objects.filter(flow_id=flow_id).select_related("status")]


def run_flow_id(incident: Incident) -> int:
    """The flow the incident runs: the one it entered (``LearningRun``). An
    incident without a run (every one that entered has one since the
    migration that made them) runs the org's default flow."""
    flow_id = LearningRun.objects.filter(incident=incident).values_list("flow_id", flat=True).first()
    if flow_id is None:
        flow_id = LearningFlow.objects.filter(org_id=incident.org_id, is_default=True).values_list("pk", flat=True)[0]
    return flow_id


def _closed_status(org_id: int) -> IncidentStatus:
    status = IncidentStatus.objects.filter(org_id=org_id, category=StatusCategory.CLOSED).order_by("rank", "pk").first()
    if status is None:
        raise ServiceError(f"This organization has no {StatusCategory.CLOSED} status configured.")
    return status


def _role_holder(incident: Incident, role):
    if role is None:
        return None
    assignment = incident.role_assignments.filter(role=role).select_related("user").first()
    return assignment.user if assignment else None


def create_tasks(incident: Incident, status: IncidentStatus, flow_id: int) -> list[LearningTask]:
    """Snapshot the templates of ``status`` in the incident's flow into tasks; work already done counts at once."""
    tasks = []
    templates = TaskTemplate.objects.filter(flow_id=flow_id, status=status).select_related("assignee_role", "target_role")
    for rank, template in enumerate(templates):
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
    set_task_due_dates(incident, tasks)
    return LearningTask.objects.bulk_create(tasks)


def _post_tasks(incident: Incident, status: IncidentStatus, tasks: list[LearningTask]) -> None:
    text, blocks = messages.tasks_posted(incident, status, tasks)
    # The dedupe key names the incident *and* the status: a repeated advance
    # into the same status cannot queue the message twice.
    # ``data`` names the status the message shows: the transport renders it at delivery.
    outbox_enqueue(
        org=incident.org, incident=incident, kind=TASKS_POSTED, text=text, blocks=blocks,
        dedupe_key=f"{TASKS_POSTED}:{incident.pk}:{status.pk}", data={"status_id": status.pk},
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
        org=incident.org, incident=incident, kind=TASK_ASSIGNED,
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


def _move_to_learning_status(incident: Incident, status: IncidentStatus, *, fields: list[str], now: datetime) -> None:
    """Put the (locked) incident in ``status`` and remember it was there (see ``visited_steps``)."""
    incident.status = status
    incident.save(update_fields=["status", *fields, "updated_at"])
    LearningStatusVisit.objects.create(incident=incident, status=status, entered_at=now)


def _leave_learning_status(incident: Incident, now: datetime) -> None:
    """Mark the (locked) incident's visit of its current learning status as
    over, before it moves on, completes the flow or opts out: the visits not
    left are the incidents' current ones, which the Post-incident page reads
    by an index (learning/post_incident.py)."""
    LearningStatusVisit.objects.filter(incident=incident, status_id=incident.status_id).update(left_at=now)


def _enter(incident: Incident, actor: Actor) -> None:
    """Move a (locked) live incident into the first status of its type's flow (``rules.decide``
    said the flow has one), and keep that flow as the incident's for good (``LearningRun``)."""
    flow = entry_flow(incident)
    first = flow_steps(flow.pk)[0]
    now = timezone.now()
    incident.learning_flow = LearningFlowState.RUNNING
    incident.resolved_at = incident.resolved_at or now
    LearningRun.objects.create(incident=incident, flow=flow, entered_at=now)
    _move_to_learning_status(incident, first, fields=["learning_flow", "resolved_at"], now=now)
    timeline_record(incident=incident, kind=EventKind.CLOSED, actor=actor, text="Incident closed", occurred_at=now)
    tasks = create_tasks(incident, first, flow.pk)
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


def visited_steps(incident: Incident) -> set[int]:
    """Ids of the learning statuses the incident has been in.

    An admin may reorder the statuses while incidents are in the flow; an
    incident never goes back into a status it has already been through (it
    would get a second set of tasks and leave that status twice). A status
    without templates leaves no tasks behind, so the visits are kept as rows
    (``LearningStatusVisit``, unique per incident and status).
    """
    return set(LearningStatusVisit.objects.filter(incident=incident).values_list("status_id", flat=True))


def upcoming_steps(steps: list[IncidentStatus], current: IncidentStatus, visited: set[int]) -> list[IncidentStatus]:
    """The steps the incident will still go through after ``current``, in order:
    those after it that it has not been in.

    An admin may have taken ``current`` out of the flow since the incident
    entered it; then the incident carries on after the last step it visited.
    """
    ids = [status.pk for status in steps]
    if current.pk in ids:
        position = ids.index(current.pk)
    else:
        position = max((index for index, pk in enumerate(ids) if pk in visited), default=-1)
    return [status for status in steps[position + 1:] if status.pk not in visited]


def following_step(steps: list[IncidentStatus], current: IncidentStatus, visited: set[int]) -> IncidentStatus | None:
    """The first step after ``current`` that the incident has not been in."""
    return next(iter(upcoming_steps(steps, current, visited)), None)


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
    flow_id = run_flow_id(incident)
    current = incident.status
    following = following_step(flow_steps(flow_id), current, visited_steps(incident))
    now = timezone.now()
    _leave_learning_status(incident, now)
    if following is not None:
        _move_to_learning_status(incident, following, fields=[], now=now)
        tasks = create_tasks(incident, following, flow_id)
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
    incident.closed_at = now
    incident.save(update_fields=["status", "learning_flow", "closed_at", "updated_at"])
    timeline_record(
        incident=incident, kind=EventKind.LEARNING_FLOW_COMPLETED, actor=system,
        text=f"Every task of {current.name} is addressed: the learning flow is complete and the incident is closed",
        data={"from": current.name},
    )
    outbox_enqueue(
        org=incident.org, incident=incident, kind=FLOW_COMPLETED, text=messages.flow_completed(incident),
        dedupe_key=f"{FLOW_COMPLETED}:{incident.pk}",
    )
    return True


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the learning flow is skipped; the reason is kept and shared.", field="opt_out_reason")
    return limits.check_length(reason, limit=limits.REASON, field="opt_out_reason", what="the reason")


def _opt_out(incident: Incident, actor: Actor, reason: str, *, closing: bool) -> None:
    """Close a locked incident without (the rest of) the learning flow."""
    reason = clean_reason(reason)
    now = timezone.now()
    was = incident.status
    if not closing:
        _leave_learning_status(incident, now)
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
        org=incident.org, incident=incident, kind=FLOW_OPTED_OUT, text=messages.opted_out(incident, reason, who),
        dedupe_key=f"{FLOW_OPTED_OUT}:{incident.pk}",
    )


@transaction.atomic
def learning_opt_out(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Leave a running learning flow, with a reason; the incident goes to Closed."""
    reason = clean_reason(reason)
    incident = lock_incident(incident)
    if incident.learning_flow != LearningFlowState.RUNNING:
        raise ServiceError(f"{incident.reference} is not in the learning flow.")
    _opt_out(incident, actor, reason, closing=False)
    return incident


# --- Closing: the one entry point for dashboard, API and Slack ----------------------------


@transaction.atomic
def incident_close(
    *,
    incident: Incident,
    actor: Actor,
    learning_flow: str | None = None,
    opt_out_reason: str = "",
) -> Incident:
    """Close a live incident: the one closing service for dashboard, API and Slack.

    The org's lifecycle rules (``rules.decide``) say whether the learning flow
    is offered: a *required* flow runs unless the closer opts out with a
    reason; *ask* needs ``learning_flow`` (``LearningFlowChoice``: "run", or
    "opt_out" with a reason); *never* closes straight to Closed. "Incident
    closed" is on the timeline either way.
    """
    if learning_flow is not None and learning_flow not in LearningFlowChoice.VALUES:
        raise ServiceError("Choose “run” or “opt_out” for the learning flow.", field="learning_flow")
    if learning_flow == LearningFlowChoice.OPT_OUT:
        clean_reason(opt_out_reason)
    incident = lock_incident(incident)
    if not incident.is_live:
        raise ServiceError(f"{incident.reference} is {incident.status.name.lower()}, not live; it cannot be closed.")

    decision = decide(incident)
    if decision == FlowDecision.NEVER:
        _close_straight(incident, actor)
    elif learning_flow == LearningFlowChoice.OPT_OUT:
        _opt_out(incident, actor, opt_out_reason, closing=True)
    elif learning_flow == LearningFlowChoice.RUN or decision == FlowDecision.REQUIRED:
        _enter(incident, actor)
    else:
        raise ServiceError(
            "Choose whether to run the learning flow, or close without it and say why.", field="learning_flow"
        )
    return incident


def _close_straight(incident: Incident, actor: Actor) -> None:
    """Close a (locked) live incident where the flow is not offered: it stays ``not_entered``."""
    now = timezone.now()
    incident.status = _closed_status(incident.org_id)
    incident.resolved_at = incident.resolved_at or now
    incident.closed_at = now
    incident.save(update_fields=["status", "resolved_at", "closed_at", "updated_at"])
    timeline_record(incident=incident, kind=EventKind.CLOSED, actor=actor, text="Incident closed")


# --- Repair --------------------------------------------------------------------------------


def learning_repair_stuck() -> int:
    """Advance running incidents whose current status is finished but which did
    not move (their advance job was lost, e.g. Redis down at commit). Returns
    how many moved; the advance itself is the same compare-and-set."""
    outstanding = LearningTask.objects.filter(
        incident=OuterRef("pk"), status=OuterRef("status"), required=True, state=TaskState.OUTSTANDING
    )
    stuck = (
        Incident.objects.filter(learning_flow=LearningFlowState.RUNNING)
        .annotate(blocked=Exists(outstanding))
        .filter(blocked=False)
        .values_list("pk", "status_id")[:REPAIR_BATCH]
    )
    return sum(learning_advance(incident_id=pk, from_status_id=status_id) for pk, status_id in stuck)
