"""Post-mortems and debriefs: what an incident's team writes and meets about."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Debrief, EventKind, Incident, Postmortem, PostmortemStatus
from incidentio.incidents.services.incidents import lock_incident
from incidentio.incidents.services.timeline import timeline_record
from orgs.models import Membership

POSTMORTEM_TEMPLATE = """## Summary

What happened, in two or three sentences.

## Impact

Who was affected, how, and for how long.

## Timeline

Key moments, from the incident's timeline.

## Root causes

## What went well

## What could have gone better

## Follow-ups
"""


def _check_content(content: str) -> str:
    return limits.check_length(content, limit=limits.POSTMORTEM, field="content", what="the post-mortem")


@transaction.atomic
def postmortem_create(*, incident: Incident, actor: Actor, content: str | None = None) -> Postmortem:
    incident = lock_incident(incident)
    if Postmortem.objects.filter(incident=incident).exists():
        raise ServiceError(f"{incident.reference} already has a post-mortem.")
    content = _check_content(POSTMORTEM_TEMPLATE if content is None else content)
    try:
        with transaction.atomic():
            postmortem = Postmortem.objects.create(incident=incident, content=content, created_by=actor.user)
    except IntegrityError:
        raise ServiceError(f"{incident.reference} already has a post-mortem.") from None
    timeline_record(incident=incident, kind=EventKind.POSTMORTEM_CREATED, actor=actor, text="Post-mortem created")
    return postmortem


def _lock_postmortem(postmortem: Postmortem) -> Postmortem:
    lock_incident(postmortem.incident)
    return Postmortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)


@transaction.atomic
def postmortem_edit(*, postmortem: Postmortem, actor: Actor, content: str) -> Postmortem:
    """Save new content. Edits are frequent, so they are not timeline events."""
    postmortem = _lock_postmortem(postmortem)
    postmortem.content = _check_content(content)
    postmortem.save(update_fields=["content", "updated_at"])
    return postmortem


@transaction.atomic
def postmortem_set_status(*, postmortem: Postmortem, actor: Actor, status: str) -> Postmortem:
    if status not in PostmortemStatus.values:
        raise ServiceError(f"Unknown post-mortem status “{status}”.", field="status")
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status == status:
        return postmortem
    old = postmortem.get_status_display()
    postmortem.status = status
    postmortem.save(update_fields=["status", "updated_at"])
    timeline_record(incident=postmortem.incident, kind=EventKind.POSTMORTEM_STATUS_CHANGED, actor=actor,
                    text=f"Post-mortem marked {postmortem.get_status_display().lower()}",
                    data={"from": old, "to": status})
    return postmortem


@transaction.atomic
def postmortem_share(*, postmortem: Postmortem, actor: Actor) -> Postmortem:
    """Mark the post-mortem as shared with the organization (once)."""
    postmortem = _lock_postmortem(postmortem)
    if postmortem.is_shared:
        return postmortem
    postmortem.shared_at = timezone.now()
    postmortem.save(update_fields=["shared_at", "updated_at"])
    timeline_record(incident=postmortem.incident, kind=EventKind.POSTMORTEM_SHARED, actor=actor,
                    text="Post-mortem shared")
    return postmortem


@transaction.atomic
def debrief_schedule(
    *,
    incident: Incident,
    actor: Actor,
    scheduled_at: datetime,
    duration_minutes: int = 60,
    location: str = "",
    attendees=(),
) -> Debrief:
    if not 5 <= duration_minutes <= 8 * 60:
        raise ServiceError("A debrief lasts between 5 minutes and 8 hours.", field="duration_minutes")
    attendees = list(attendees)
    member_ids = set(
        Membership.objects.filter(org_id=incident.org_id, user__in=attendees).values_list("user_id", flat=True)
    )
    outsiders = [a for a in attendees if a.pk not in member_ids]
    if outsiders:
        raise ServiceError(f"{outsiders[0].email} is not a member.", field="attendees")
    location = limits.check_length(
        location.strip(), limit=limits.DEBRIEF_LOCATION, field="location", what="the location"
    )
    incident = lock_incident(incident)
    debrief = Debrief.objects.create(
        incident=incident,
        scheduled_at=scheduled_at,
        duration_minutes=duration_minutes,
        location=location,
        created_by=actor.user,
    )
    debrief.attendees.set(attendees)
    # In UTC whoever schedules it: the text goes to Slack too, where there is no viewer's zone.
    when = scheduled_at.astimezone(UTC).strftime("%a %d %b %Y %H:%M %Z")
    timeline_record(incident=incident, kind=EventKind.DEBRIEF_SCHEDULED, actor=actor,
                    text=f"Debrief scheduled for {when}",
                    data={"debrief_id": str(debrief.public_id), "scheduled_at": scheduled_at.isoformat()})
    return debrief
