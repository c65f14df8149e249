from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from functools import cache

from django.conf import settings
from django.db.models import F
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
    fields = dict(incident=incident, kind=kind, **_actor_fields(actor), text=text, data=data or {})
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    event = TimelineEvent.objects.create(**fields)
    _tell_listeners(event)
    return event


def timeline_record_many(*, kind: str, actor: Actor, entries: list[tuple[Incident, str, dict]]) -> list[TimelineEvent]:
    """Append an event of ``kind`` by ``actor`` for each ``(incident, text, data)``,
    as ``timeline_record`` would one after the other, in a fixed number of
    queries: one insert for the events, one update of the incidents'
    ``timeline_version`` per distinct number of events an incident gets (a
    page that reads the new version reads the events too, as with
    ``TimelineEvent.save``). Then each event's listeners run, in order, as
    ``timeline_record`` runs them. Call inside the change's transaction.

    For sweeps writing one event each on many incidents (the reminder
    sweep's escalations); the listeners' own queries are per event, so use it
    for kinds they pass over without a query."""
    events = [TimelineEvent(incident=incident, kind=kind, **_actor_fields(actor), text=text, data=data or {})
              for incident, text, data in entries]
    if not events:
        return []
    TimelineEvent.objects.bulk_create(events)
    incidents_by_count = defaultdict(list)
    for incident_id, count in Counter(event.incident_id for event in events).items():
        incidents_by_count[count].append(incident_id)
    for count, incident_ids in incidents_by_count.items():
        Incident.objects.filter(pk__in=incident_ids).update(timeline_version=F("timeline_version") + count)
    for event in events:
        _tell_listeners(event)
    return events


def _actor_fields(actor: Actor) -> dict:
    return dict(actor_kind=actor.kind, actor_user=actor.user, actor_label=actor.label[:200],
                actor_ref=actor.ref[:64])


def _tell_listeners(event: TimelineEvent) -> None:
    reactions, notifiers = _listeners()
    for listener in (*reactions, *notifiers):
        listener(event)


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
