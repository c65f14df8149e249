"""The one interface for queueing a message to Slack.

``outbox_enqueue`` writes an OutboxMessage in the caller's transaction; a
Celery task delivers it after commit. A rolled-back change therefore sends
nothing, and a message whose Celery job was lost (Redis down) is picked up
again by the periodic ``deliver_pending_outbox`` task.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

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


def outbox_enqueue_many(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Queue unsaved ``messages`` (each with a ``dedupe_key``) in one statement;
    returns the ones queued now, leaving out keys queued before.

    For sweeps that queue many messages at once (``learning.services.reminders``):
    ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING`` costs one query
    however many there are, and a sweep running at the same moment with the same
    keys waits for this transaction and then inserts nothing (no IntegrityError
    to recover from). Only the caller whose rows were inserted gets them back, so
    it alone does what follows from them (a timeline event, a webhook).
    """
    if not messages:
        return []
    if any(not m.dedupe_key for m in messages):
        raise ValueError("outbox_enqueue_many needs a dedupe_key on every message")
    fields = [f for f in OutboxMessage._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = []
    for message in messages:
        params.extend(f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields)
    sql = (
        f"INSERT INTO {OutboxMessage._meta.db_table} ({columns}) VALUES {', '.join([row] * len(messages))} "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = dict((key, pk) for pk, key in cursor.fetchall())
    queued = []
    for message in messages:
        if message.dedupe_key in inserted:
            message.pk = inserted.pop(message.dedupe_key)
            queued.append(message)

    if queued:
        from slackbot.tasks import queue_deliveries

        # One job for the lot, which a worker fans out into a delivery job per
        # message: publishing thousands of jobs one by one would hold up the
        # sweep (0.4 ms each). robust: as in outbox_enqueue, the beat re-queues
        # what could not be published.
        jobs = [[message.pk, message.kind] for message in queued]
        transaction.on_commit(lambda: queue_deliveries.delay(jobs), robust=True)
    return queued
