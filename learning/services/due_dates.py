"""Due dates of learning tasks and follow-ups, in the org's business days
(``orgs.calendar``; docs/learning-flow.md, "Due dates").

- A task is due ``template.due_days`` business days after the task was
  created, or after the incident was resolved (``DueFrom``); an incident not
  resolved yet counts from the task's creation. Set once, when the task is
  created (tasks are a snapshot of their templates).
- A follow-up is due by the org's ``FollowUpDueRule`` for its priority: that
  many business days after the incident was resolved, or after the follow-up
  was created if that is later. Until the incident is resolved it has no due
  date. A due date set by hand (``due_set_by_hand``) is left alone; clearing
  it returns the follow-up to the policy.

The follow-up rule is applied by a timeline reaction (``on_timeline_event``,
in ``settings.TIMELINE_REACTIONS``): every way a follow-up is created or its
priority changed, and every way an incident is resolved (the three closings
of ``learning.services.flow``, the timestamps form), writes a timeline event,
so one hook sees them all and the incident core does not depend on learning.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    LOOK_AT_NEXT_SWEEP,
    EventKind,
    FollowUp,
    FollowUpPriority,
    FollowUpStatus,
    Incident,
)
from learning.models import DueFrom, FollowUpDueRule, LearningTask
from orgs.calendar import WorkingCalendar, add_business_days

#: A due rule longer than this (about a year of working days) is a typo.
MAX_DUE_DAYS = 250

#: Follow-up changes after which its due date is worked out again.
_RECOMPUTING_FIELDS = {"priority", "due_at"}


def task_due_at(calendar: WorkingCalendar, task: LearningTask, incident: Incident) -> datetime | None:
    """When ``task`` (not saved yet, with its ``template``) is due by its template's rule."""
    template = task.template
    if template is None or template.due_days is None:
        return None
    start = task.created_at
    if template.due_from == DueFrom.INCIDENT_RESOLVED and incident.resolved_at is not None:
        start = incident.resolved_at
    return add_business_days(calendar, start, template.due_days)


def set_task_due_dates(incident: Incident, tasks: list[LearningTask]) -> None:
    """Give new (unsaved) tasks their due dates; reads the calendar only when a template has a rule."""
    if not any(task.template is not None and task.template.due_days is not None for task in tasks):
        return
    calendar = WorkingCalendar.of(incident.org)
    for task in tasks:
        task.due_at = task_due_at(calendar, task, incident)


def follow_up_rules(org_id: int) -> dict[str, int]:
    """The org's due rules: priority → business days (a priority left out has no due date)."""
    return dict(FollowUpDueRule.objects.filter(org_id=org_id).values_list("priority", "due_days"))


def follow_up_due_at(
    calendar: WorkingCalendar, follow_up: FollowUp, incident: Incident, rules: dict[str, int]
) -> datetime | None:
    days = rules.get(follow_up.priority)
    if days is None or incident.resolved_at is None:
        return None
    return add_business_days(calendar, max(incident.resolved_at, follow_up.created_at), days)


def apply_follow_up_policy(incident: Incident, follow_ups) -> None:
    """Set the policy's due date on ``follow_ups`` of ``incident`` (none set by hand)."""
    follow_ups = [f for f in follow_ups if not f.due_set_by_hand]
    if not follow_ups:
        return
    rules = follow_up_rules(incident.org_id)
    # The calendar is read only when some follow-up can get a date.
    needed = incident.resolved_at is not None and any(f.priority in rules for f in follow_ups)
    calendar = WorkingCalendar.of(incident.org) if needed else None
    changed = []
    for follow_up in follow_ups:
        due_at = follow_up_due_at(calendar, follow_up, incident, rules) if needed else None
        if due_at != follow_up.due_at:
            follow_up.due_at = due_at
            # bulk_update skips save(): tell the reminder sweep to work the slots out again.
            follow_up.next_reminder_at = LOOK_AT_NEXT_SWEEP
            changed.append(follow_up)
    FollowUp.objects.bulk_update(changed, ["due_at", "next_reminder_at"])


def on_timeline_event(event) -> None:
    """A ``settings.TIMELINE_REACTIONS`` entry: keep policy due dates of follow-ups current."""
    kind, data = event.kind, event.data or {}
    if kind == EventKind.FOLLOW_UP_CREATED or (
        kind == EventKind.FOLLOW_UP_UPDATED and _RECOMPUTING_FIELDS & set(data.get("fields", ()))
    ):
        follow_ups = FollowUp.objects.filter(incident_id=event.incident_id, public_id=data["follow_up_id"])
    elif kind == EventKind.CLOSED or (kind == EventKind.TIMESTAMPS_UPDATED and "resolved_at" in data):
        # Resolved (or its time corrected): the outstanding follow-ups count from it.
        follow_ups = FollowUp.objects.filter(incident_id=event.incident_id, status=FollowUpStatus.OUTSTANDING)
    else:
        return
    apply_follow_up_policy(event.incident, follow_ups.filter(due_set_by_hand=False))


@transaction.atomic
def follow_up_due_rules_update(*, org, due_days: dict[str, int | None]) -> None:
    """Replace the org's follow-up due rules: priority → business days, None for no due date.

    Applies to follow-ups from now on (and whenever one's due date is worked
    out again); follow-ups that already have a due date keep it."""
    unknown = set(due_days) - set(FollowUpPriority.values)
    if unknown:
        raise ServiceError(f"Unknown priority “{sorted(unknown)[0]}”.", field="due_days")
    for priority, days in due_days.items():
        if days is not None and not (isinstance(days, int) and 0 <= days <= MAX_DUE_DAYS):
            raise ServiceError(f"Give a number of business days from 0 to {MAX_DUE_DAYS}, or none.",
                               field=f"due_days_{priority}")
    FollowUpDueRule.objects.filter(org=org, priority__in=list(due_days)).delete()
    FollowUpDueRule.objects.bulk_create(
        FollowUpDueRule(org=org, priority=priority, due_days=days)
        for priority, days in due_days.items() if days is not None
    )
