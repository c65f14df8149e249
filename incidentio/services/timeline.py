from __future__ import annotations

from datetime import datetime

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
    return TimelineEvent.objects.create(**fields)
