"""Timeline events → webhook events.

``on_timeline_event`` is a timeline listener (``settings.TIMELINE_NOTIFIERS``):
``timeline_record`` calls it in the transaction of the change, so the
deliveries it queues commit or roll back with that change. Which timeline
kinds become which webhook event is decided by ``event_types_for``; the
payload is a snapshot of the incident at the moment of the event.

The incident and the learning task in a payload are the API's own
representations (``incident_json``, ``learning_task_json``): one shape per
resource, described by the OpenAPI schema (docs/webhooks.md).
"""

from __future__ import annotations

import uuid

from incidentio.api.renderers import as_sent
from incidentio.incidents.api.documents import follow_up_queryset
from incidentio.incidents.api.representation import incident_json
from incidentio.incidents.api.serializers import FollowUpSerializer
from incidentio.incidents.models import EventKind, IncidentStatus, StatusCategory, TimelineEvent
from learning.api_serializers import learning_task_json, learning_task_queryset
from orgs.models import Membership
from webhooks.models import WebhookEventType
from webhooks.services import deliveries_enqueue, subscribed_endpoints, subscribed_endpoints_by_org

E = WebhookEventType

_BY_KIND: dict[str, tuple[str, ...]] = {
    EventKind.DECLARED: (E.INCIDENT_CREATED,),
    EventKind.RENAMED: (E.INCIDENT_UPDATED,),
    EventKind.SUMMARY_UPDATED: (E.INCIDENT_UPDATED,),
    EventKind.SEVERITY_CHANGED: (E.INCIDENT_UPDATED,),
    EventKind.TYPE_CHANGED: (E.INCIDENT_UPDATED,),
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
    incident = None  # read once, for the first event sent
    for event_type in event_types_for(event):
        if not any(e.subscribes_to(event_type) for e in endpoints):
            continue
        # Derived from the timeline event: the same fact always has the same id.
        event_id = uuid.uuid5(event.public_id, event_type)
        if incident is None:
            incident = as_sent(incident_json(event.incident))
        payload = build_payload(event, event_type, event_id, incident=incident)
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


def build_payload(event: TimelineEvent, event_type: str, event_id: uuid.UUID, *, incident: dict) -> dict:
    """The event's payload around ``incident``, the incident as the API shows it (as sent)."""
    change = {"kind": event.kind, "description": event.text}
    # Only the plain facts of the event: never the internal ids some events keep.
    change.update({k: v for k, v in event.data.items() if k in ("from", "to", "reason") and isinstance(v, str)})
    org_id = event.incident.org_id
    data = {
        "incident": incident,
        "change": change,
        "actor": {
            "kind": event.actor_kind,
            "name": event.actor_name,
            "user": _user(org_id, event.actor_user),
        },
    }
    if event_type == E.LEARNING_TASK_UPDATED:
        task = learning_task_queryset(org_id).filter(
            incident_id=event.incident_id, public_id=event.data.get("task_id")
        ).first()
        data["learning_task"] = as_sent(learning_task_json(task)) if task else None
    return {"id": str(event_id), "type": event_type, "created_at": _ts(event.occurred_at), "data": data}


# --- Overdue work -------------------------------------------------------------------------------


def on_work_overdue(items: list) -> None:
    """``settings.OVERDUE_NOTIFIERS``: the reminder sweep found these items past
    their due date (``[(kind, item, key), …]``, kind ``task`` or ``follow_up``),
    in its transaction. One event per item and due date: its id is derived from
    ``key`` (the item's "due" slot), so a second sweep's enqueue is a no-op."""
    by_org: dict[int, list] = {}
    for kind, item, key in items:
        by_org.setdefault(item.incident.org_id, []).append((kind, item, key))
    endpoints_by_org = subscribed_endpoints_by_org(org_ids=list(by_org))
    for org_id, org_items in by_org.items():
        endpoints = endpoints_by_org.get(org_id)
        if not endpoints:
            continue
        for kind, item, key in org_items:
            event_type = E.LEARNING_TASK_OVERDUE if kind == "task" else E.FOLLOW_UP_OVERDUE
            if not any(e.subscribes_to(event_type) for e in endpoints):
                continue
            event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"incidentio:{key}")
            data = {"incident": as_sent(incident_json(item.incident)), "due_at": _ts(item.due_at)}
            if kind == "task":
                task = learning_task_queryset(org_id).get(pk=item.pk)
                data["learning_task"] = as_sent(learning_task_json(task))
            else:
                follow_up = follow_up_queryset(item.incident.org).get(pk=item.pk)
                data["follow_up"] = as_sent(FollowUpSerializer(follow_up).data)
            payload = {"id": str(event_id), "type": event_type, "created_at": _ts(item.due_at), "data": data}
            deliveries_enqueue(endpoints=endpoints, event_type=event_type, event_id=event_id, payload=payload)
