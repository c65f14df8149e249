from __future__ import annotations

from datetime import datetime
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from incidentio.actors import Actor
from incidentio.models import Incident, TimelineEvent


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    actor: Actor,
    text: str = "",
    data: dict | None = None,
    occurred_at: datetime | None = None,
) -> TimelineEvent:
    """Append one event to the incident's timeline. Call inside the change's transaction."""
    fields = dict(
        incident=incident,
        kind=kind,
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_label=actor.label[:200],
        actor_ref=actor.ref[:64],
        text=text,
        data=data or {},
    )
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    event = TimelineEvent.objects.create(**fields)
    for listener in _listeners():
        listener(event)
    return event


@cache
def _listeners():
    """Subsystems that react to timeline events in the same transaction
    (``settings.TIMELINE_LISTENERS``), e.g. the learning flow's auto-completion."""
    return [import_string(path) for path in settings.TIMELINE_LISTENERS]
