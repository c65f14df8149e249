"""Timeline events → webhook events.

``on_timeline_event`` is a timeline listener (``settings.TIMELINE_NOTIFIERS``):
``timeline_record`` calls it in the transaction of the change, so the
deliveries it queues commit or roll back with that change. Which timeline
kinds become which webhook event is decided by ``event_types_for``; the
payload is a snapshot of the incident at the moment of the event.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.urls import reverse

from incidentio.models import EventKind, Incident, IncidentStatus, StatusCategory, TimelineEvent
from learning.models import LearningTask
from orgs.models import Membership
from webhooks.models import WebhookEventType
from webhooks.services import deliveries_enqueue, subscribed_endpoints

E = WebhookEventType

_BY_KIND: dict[str, tuple[str, ...]] = {
    EventKind.DECLARED: (E.INCIDENT_CREATED,),
    EventKind.RENAMED: (E.INCIDENT_UPDATED,),
    EventKind.SUMMARY_UPDATED: (E.INCIDENT_UPDATED,),
    EventKind.SEVERITY_CHANGED: (E.INCIDENT_UPDATED,),
    EventKind.ROLE_ASSIGNED: (E.INCIDENT_UPDATED,),
    EventKind.ROLE_UNASSIGNED: (E.INCIDENT_UPDATED,),
    EventKind.TIMESTAMPS_UPDATED: (E.INCIDENT_UPDATED,),
    EventKind.STATUS_CHANGED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.ACCEPTED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.DECLINED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.MERGED: (E.INCIDENT_STATUS_CHANGED,),
    # Closing into the learning flow moves the incident to its first learning
    # status: this one event says so (LEARNING_FLOW_ENTERED adds nothing new).
    EventKind.CLOSED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.LEARNING_STATUS_CHANGED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.LEARNING_FLOW_COMPLETED: (E.INCIDENT_STATUS_CHANGED,),
    EventKind.LEARNING_FLOW_OPTED_OUT: (E.INCIDENT_LEARNING_FLOW_OPTED_OUT,),
    EventKind.TASK_COMPLETED: (E.LEARNING_TASK_UPDATED,),
    EventKind.TASK_NOT_DOING: (E.LEARNING_TASK_UPDATED,),
    EventKind.TASK_REOPENED: (E.LEARNING_TASK_UPDATED,),
    EventKind.TASK_ASSIGNED: (E.LEARNING_TASK_UPDATED,),
}


def event_types_for(event: TimelineEvent) -> tuple[str, ...]:
    """The webhook events one timeline event becomes, in the order they are sent."""
    types = _BY_KIND.get(event.kind, ())
    if event.kind == EventKind.LEARNING_FLOW_OPTED_OUT and _opted_out_from_learning_status(event):
        # Opting out from inside the flow also closes the incident, and no
        # CLOSED event reports that (when opting out *while closing*, one does).
        types = (E.INCIDENT_STATUS_CHANGED, *types)
    return types


def _opted_out_from_learning_status(event: TimelineEvent) -> bool:
    return IncidentStatus.objects.filter(
        org_id=event.incident.org_id, name=event.data.get("from"), category=StatusCategory.LEARNING
    ).exists()


def on_timeline_event(event: TimelineEvent) -> None:
    """Queue a delivery per subscribed endpoint; runs in the event's transaction."""
    if event.kind not in _BY_KIND:
        return
    # The common case, an org without webhooks, costs this one query.
    endpoints = subscribed_endpoints(org_id=event.incident.org_id)
    if not endpoints:
        return
    for event_type in event_types_for(event):
        if not any(e.subscribes_to(event_type) for e in endpoints):
            continue
        # Derived from the timeline event: the same fact always has the same id.
        event_id = uuid.uuid5(event.public_id, event_type)
        payload = build_payload(event, event_type, event_id)
        deliveries_enqueue(endpoints=endpoints, event_type=event_type, event_id=event_id, payload=payload)


# --- Payloads -----------------------------------------------------------------------------------


def _ts(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def _user(org_id: int, user) -> dict | None:
    """A user as the API shows one: id is their membership id (null if they left)."""
    if user is None:
        return None
    member_id = Membership.objects.filter(org_id=org_id, user=user).values_list("public_id", flat=True).first()
    return {"id": str(member_id) if member_id else None, "name": user.display_name, "email": user.email}


def incident_payload(incident: Incident) -> dict:
    status, severity = incident.status, incident.severity
    path = reverse("incident_detail", kwargs={"org_slug": incident.org.slug, "incident_id": incident.public_id})
    return {
        "id": str(incident.public_id),
        "reference": incident.reference,
        "name": incident.name,
        "summary": incident.summary,
        "incident_status": {"id": str(status.public_id), "name": status.name, "category": status.category},
        "severity": (
            {"id": str(severity.public_id), "name": severity.name, "rank": severity.rank} if severity else None
        ),
        "learning_flow": incident.learning_flow,
        "opt_out_reason": incident.opt_out_reason,
        "reported_at": _ts(incident.reported_at),
        "accepted_at": _ts(incident.accepted_at),
        "resolved_at": _ts(incident.resolved_at),
        "closed_at": _ts(incident.closed_at),
        "permalink": settings.SITE_URL.rstrip("/") + path,
    }


def task_payload(task: LearningTask) -> dict:
    return {
        "id": str(task.public_id),
        "title": task.title,
        "kind": task.kind,
        "required": task.required,
        "state": task.state,
        "not_doing_reason": task.not_doing_reason,
        "learning_status": {"id": str(task.status.public_id), "name": task.status.name},
        "assignee": _user(task.org_id, task.assignee),
        "addressed_at": _ts(task.addressed_at),
        "completed_automatically": task.completed_automatically,
    }


def build_payload(event: TimelineEvent, event_type: str, event_id: uuid.UUID) -> dict:
    incident = event.incident
    change = {"kind": event.kind, "description": event.text}
    # Only the plain facts of the event: never the internal ids some events keep.
    change.update({k: v for k, v in event.data.items() if k in ("from", "to", "reason") and isinstance(v, str)})
    data = {
        "incident": incident_payload(incident),
        "change": change,
        "actor": {
            "kind": event.actor_kind,
            "name": event.actor_name,
            "user": _user(incident.org_id, event.actor_user),
        },
    }
    if event_type == E.LEARNING_TASK_UPDATED:
        task = (
            LearningTask.objects.select_related("status", "assignee")
            .filter(incident=incident, public_id=event.data.get("task_id"))
            .first()
        )
        data["learning_task"] = task_payload(task) if task else None
    return {"id": str(event_id), "type": event_type, "created_at": _ts(event.occurred_at), "data": data}
