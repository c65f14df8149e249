"""Celery tasks delivering webhooks. They take ids, re-fetch, and running one
twice is harmless: a delivery is sent only while it is pending and due, under
its row lock (``services.delivery_attempt``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from incidentio.config.celery import PRIORITY_BACKGROUND
from webhooks import services


@shared_task(bind=True, acks_late=True, max_retries=None, priority=PRIORITY_BACKGROUND)
def deliver_webhook(self, delivery_id: int) -> str:
    """Attempt one delivery; on failure, come back after the backoff.

    Retries are bounded in time, not count: ``delivery_attempt`` gives up (and
    disables the endpoint) once the retry window has passed. The wait is a
    Celery countdown, never a sleep in the worker.
    """
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    if attempt.outcome == "retry":
        if self.request.is_eager:
            # In-process (embedded mode, tests) no worker comes back after a
            # countdown, and retrying at once would hammer a failing receiver:
            # the delivery stays pending until ``deliver_due_webhooks`` finds it due.
            return "retry later"
        raise self.retry(countdown=attempt.retry_in)
    return attempt.outcome


@shared_task
def deliver_due_webhooks(grace_seconds: int = 60) -> int:
    """Beat: re-queue pending deliveries overdue by more than ``grace_seconds``
    (their job was lost: Redis down at commit, a worker killed). Returns how many."""
    ids = services.deliveries_due(grace=timedelta(seconds=grace_seconds))
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)
