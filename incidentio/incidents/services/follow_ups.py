"""Follow-ups: the work an incident leaves behind.

A follow-up's due date comes from the org's policy for its priority (applied
by a timeline reaction, ``learning.services.due_dates``) unless a person sets
one: ``due_at`` here marks it ``due_set_by_hand``, and ``due_at=None`` on an
edit clears it, back to the policy.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import EventKind, FollowUp, FollowUpPriority, FollowUpStatus, Incident
from incidentio.incidents.services.incidents import UNSET, lock_incident
from incidentio.incidents.services.timeline import timeline_record
from orgs.models import Membership


def _check_assignee(incident: Incident, assignee) -> None:
    if assignee is not None and not Membership.objects.filter(org_id=incident.org_id, user=assignee).exists():
        raise ServiceError(f"{assignee.email} is not a member.", field="assignee")


def _check_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ServiceError("Give the follow-up a title.", field="title")
    return limits.check_length(title, limit=limits.FOLLOW_UP_TITLE, field="title", what="the title")


def _check_description(description: str) -> str:
    return limits.check_length(
        description.strip(), limit=limits.FOLLOW_UP_DESCRIPTION, field="description", what="the description"
    )


def _check_due_at(due_at: datetime | None) -> datetime | None:
    if due_at is not None and timezone.is_naive(due_at):
        raise ServiceError("Give the due date with its time zone.", field="due_at")
    return due_at


#: How a changed field is named on the timeline.
_FIELD_NAMES = {"due_at": "due date"}


def _check_priority(priority: str) -> str:
    if priority not in FollowUpPriority.values:
        raise ServiceError(f"Unknown priority “{priority}”.", field="priority")
    return priority


@transaction.atomic
def follow_up_create(
    *,
    incident: Incident,
    actor: Actor,
    title: str,
    description: str = "",
    assignee=None,
    priority: str = FollowUpPriority.MEDIUM,
    due_at: datetime | None = None,
) -> FollowUp:
    """A new follow-up; without ``due_at`` it is due by the org's policy for its priority."""
    title = _check_title(title)
    description = _check_description(description)
    priority = _check_priority(priority)
    due_at = _check_due_at(due_at)
    _check_assignee(incident, assignee)
    incident = lock_incident(incident)
    follow_up = FollowUp.objects.create(
        incident=incident, title=title, description=description, assignee=assignee,
        priority=priority, created_by=actor.user, due_at=due_at, due_set_by_hand=due_at is not None,
    )
    timeline_record(incident=incident, kind=EventKind.FOLLOW_UP_CREATED, actor=actor,
                    text=f"Follow-up created: {title}", data={"follow_up_id": str(follow_up.public_id)})
    follow_up.refresh_from_db(fields=["due_at"])  # the policy's date, set by the event's reaction
    return follow_up


def _lock(follow_up: FollowUp) -> FollowUp:
    lock_incident(follow_up.incident)
    return FollowUp.objects.select_for_update().select_related("incident").get(pk=follow_up.pk)


@transaction.atomic
def follow_up_edit(
    *, follow_up: FollowUp, actor: Actor, title=UNSET, description=UNSET, assignee=UNSET, priority=UNSET,
    due_at=UNSET,
) -> FollowUp:
    """Change what is given; ``due_at`` sets the due date by hand, ``due_at=None``
    returns it to the policy (as does a new priority, unless it was set by hand)."""
    if due_at is not UNSET:
        due_at = _check_due_at(due_at)
    follow_up = _lock(follow_up)
    changes = {}
    if title is not UNSET:
        changes["title"] = _check_title(title)
    if description is not UNSET:
        changes["description"] = _check_description(description)
    if priority is not UNSET:
        changes["priority"] = _check_priority(priority)
    if assignee is not UNSET:
        _check_assignee(follow_up.incident, assignee)
        changes["assignee"] = assignee
    changes = {k: v for k, v in changes.items() if getattr(follow_up, k) != v}
    if due_at is not UNSET and (due_at != follow_up.due_at or (due_at is not None) != follow_up.due_set_by_hand):
        changes["due_at"] = due_at
        changes["due_set_by_hand"] = due_at is not None
    if not changes:
        return follow_up
    for field, value in changes.items():
        setattr(follow_up, field, value)
    follow_up.save(update_fields=list(changes))
    changes.pop("due_set_by_hand", None)
    described = ", ".join(_FIELD_NAMES.get(field, field) for field in changes)
    timeline_record(incident=follow_up.incident, kind=EventKind.FOLLOW_UP_UPDATED, actor=actor,
                    text=f"Follow-up “{follow_up.title}” updated ({described})",
                    data={"follow_up_id": str(follow_up.public_id), "fields": list(changes)})
    if {"priority", "due_at"} & changes.keys():
        follow_up.refresh_from_db(fields=["due_at"])  # the policy's date, set by the event's reaction
    return follow_up


@transaction.atomic
def follow_up_complete(*, follow_up: FollowUp, actor: Actor) -> FollowUp:
    follow_up = _lock(follow_up)
    if follow_up.status == FollowUpStatus.COMPLETED:
        return follow_up
    follow_up.status = FollowUpStatus.COMPLETED
    follow_up.completed_at = timezone.now()
    follow_up.not_doing_reason = ""
    follow_up.save(update_fields=["status", "completed_at", "not_doing_reason"])
    timeline_record(incident=follow_up.incident, kind=EventKind.FOLLOW_UP_COMPLETED, actor=actor,
                    text=f"Follow-up completed: {follow_up.title}",
                    data={"follow_up_id": str(follow_up.public_id)})
    return follow_up


@transaction.atomic
def follow_up_not_doing(*, follow_up: FollowUp, actor: Actor, reason: str = "") -> FollowUp:
    reason = limits.check_length((reason or "").strip(), limit=limits.REASON, field="reason", what="the reason")
    follow_up = _lock(follow_up)
    if follow_up.status == FollowUpStatus.NOT_DOING:
        return follow_up
    follow_up.status = FollowUpStatus.NOT_DOING
    follow_up.completed_at = None
    follow_up.not_doing_reason = reason
    follow_up.save(update_fields=["status", "completed_at", "not_doing_reason"])
    text = f"Follow-up marked not doing: {follow_up.title}"
    if follow_up.not_doing_reason:
        text += f" — {follow_up.not_doing_reason}"
    timeline_record(incident=follow_up.incident, kind=EventKind.FOLLOW_UP_NOT_DOING, actor=actor, text=text,
                    data={"follow_up_id": str(follow_up.public_id), "reason": follow_up.not_doing_reason})
    return follow_up
