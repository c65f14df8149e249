from __future__ import annotations

from datetime import datetime
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, TimelineEvent


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
    reactions, notifiers = _listeners()
    for listener in (*reactions, *notifiers):
        listener(event)
    return event


@cache
def _listeners() -> tuple[list, list]:
    """Other apps' listeners, called with each event in its transaction, in two
    phases. Every *reaction* (``settings.TIMELINE_REACTIONS``: the learning
    flow completing tasks) runs before any *notifier*
    (``settings.TIMELINE_NOTIFIERS``: Slack messages, webhook deliveries), so
    a notifier sees the state after every reaction to the event; a reaction
    that records an event of its own has that one notified first. Notifiers
    only queue outbound work and do not depend on one another's order.

    Named in settings, not imported: the incident core does not depend on the
    apps that listen to it."""
    return (
        [import_string(path) for path in settings.TIMELINE_REACTIONS],
        [import_string(path) for path in settings.TIMELINE_NOTIFIERS],
    )
