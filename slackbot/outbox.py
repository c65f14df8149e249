"""The one interface for queueing a message to Slack.

``outbox_enqueue`` writes an OutboxMessage in the caller's transaction; a
Celery task delivers it after commit. A rolled-back change therefore sends
nothing, and a message whose Celery job was lost (Redis down) is picked up
again by the periodic ``deliver_pending_outbox`` task.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from slackbot.models import OutboxMessage


def outbox_enqueue(
    *,
    org,
    incident=None,
    kind: str,
    text: str,
    blocks: list | None = None,
    destination: str = "incident_channel",
    dedupe_key: str | None = None,
    data: dict | None = None,
) -> OutboxMessage | None:
    """Queue a message; returns None when ``dedupe_key`` was queued before.

    ``data`` holds facts the Slack transport renders from at delivery time
    (``incident``-scoped kinds such as ``learning.tasks_updated`` re-read the
    tasks then, so a late delivery never shows a stale state).
    """
    try:
        with transaction.atomic():
            message = OutboxMessage.objects.create(
                org=org,
                incident=incident,
                kind=kind,
                text=text,
                blocks=blocks or [],
                destination=destination,
                dedupe_key=dedupe_key,
                data=data or {},
            )
    except IntegrityError:
        if dedupe_key and OutboxMessage.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise

    from slackbot.tasks import queue_delivery

    # robust: with Redis down the change still stands (and the request succeeds);
    # the deliver_pending_outbox beat re-queues the message later.
    transaction.on_commit(lambda: queue_delivery(message.pk, kind), robust=True)
    return message
