"""Celery tasks delivering the outbox. They take ids, re-fetch, and running one
twice is harmless: a message is sent only while it is pending."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from slackbot.models import OutboxMessage, OutboxState
from slackbot.transports import TransportError, get_transport

MAX_ATTEMPTS = 8


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def deliver_outbox_message(self, message_id: int) -> str:
    with transaction.atomic():
        # skip_locked: a second worker holding the same id moves on at once.
        # of=("self",): Postgres refuses FOR UPDATE across the outer join to the
        # nullable incident; only the message row needs the lock.
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "org")
            .filter(pk=message_id, state=OutboxState.PENDING)
            .first()
        )
        if message is None:
            return "not pending"
        message.attempts += 1
        try:
            get_transport().send(message)
        except TransportError as exc:
            message.last_error = str(exc)[:2000]
            if exc.permanent or message.attempts >= MAX_ATTEMPTS:
                message.state = OutboxState.FAILED
                message.save(update_fields=["attempts", "last_error", "state"])
                return "failed"
            message.save(update_fields=["attempts", "last_error"])
            countdown = exc.retry_after or min(2 ** message.attempts, 300)
        else:
            message.state = OutboxState.SENT
            message.sent_at = timezone.now()
            message.save(update_fields=["attempts", "state", "sent_at"])
            return "sent"
    # Retry outside the transaction, without sleeping in the worker.
    raise self.retry(countdown=countdown)


@shared_task
def deliver_pending_outbox(older_than_seconds: int = 30) -> int:
    """Beat: re-queue pending messages whose delivery job was lost. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for message_id in ids:
        deliver_outbox_message.delay(message_id)
    return len(ids)
