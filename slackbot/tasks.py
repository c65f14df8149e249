"""Celery tasks delivering the outbox and doing the Slack Web API calls that
listeners must not make inline. They take ids, re-fetch, and running one twice
is harmless: a message is sent only while it is pending."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.utils import timezone

from slackbot.models import OutboxMessage, OutboxState
from slackbot.transports import ChannelBusy, TransportError, get_transport

logger = logging.getLogger("incidentio.slack")

MAX_ATTEMPTS = 8
#: Bound on re-schedules because the channel's one-message-per-second slot was
#: taken: they are not failures, but they must not go on forever either.
MAX_DEFERRALS = 120


@shared_task(bind=True, max_retries=MAX_ATTEMPTS + MAX_DEFERRALS, acks_late=True)
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
        if _earlier_pending(message).exists():
            # In order per channel: an older message to the same place goes first.
            # When it is sent (or fails for good) it re-queues this one
            # (_queue_next); the beat re-queues anything left pending.
            return "waiting for an earlier message"
        try:
            get_transport(message).send(message)
        except ChannelBusy as exc:
            # Not an attempt: another message to the same channel went out less
            # than a second ago. Come back a little later, with jitter so a
            # burst to one channel drains one message per second.
            countdown = exc.retry_after + random.uniform(0, 0.5)
            if self.request.is_eager:
                return _leave_pending(message, str(exc), countdown)
            if self.request.retries >= MAX_ATTEMPTS + MAX_DEFERRALS:
                return _leave_pending(message, str(exc))
        except TransportError as exc:
            message.attempts += 1
            message.last_error = str(exc)[:2000]
            if exc.permanent or message.attempts >= MAX_ATTEMPTS:
                message.state = OutboxState.FAILED
                message.save(update_fields=["attempts", "last_error", "state"])
                logger.warning("Slack message %s failed: %s", message.pk, exc)
                _queue_next(message)
                return "failed"
            message.save(update_fields=["attempts", "last_error"])
            countdown = exc.retry_after or min(2**message.attempts, 300)
            if self.request.is_eager:
                # In-process a retry would run at once, in this request.
                _retry_in_process_later(message.pk, countdown)
                return "deferred"
            _note_retry(message.pk, countdown)
        else:
            message.attempts += 1
            message.state = OutboxState.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
            message.save(update_fields=["attempts", "state", "sent_at", "last_error"])
            _queue_next(message)
            return "sent"
    # Retry outside the transaction, without sleeping in the worker: the job
    # goes back to the broker with an ETA and this worker takes the next one.
    raise self.retry(countdown=countdown)


#: Kinds that edit messages already posted (chat.update) instead of posting one:
#: they render the current state whenever they run, so they are not ordered.
UNORDERED_KINDS = ("learning.tasks_updated",)


def _same_place(message: OutboxMessage):
    """Pending messages posted where ``message`` is: the incident's channel, or one member's DM."""
    places = OutboxMessage.objects.filter(state=OutboxState.PENDING, org_id=message.org_id,
                                          destination=message.destination)
    if not message.destination.startswith("dm:"):
        places = places.filter(incident_id=message.incident_id)
    return places.exclude(kind__in=UNORDERED_KINDS)


def _earlier_pending(message: OutboxMessage):
    if message.kind in UNORDERED_KINDS:
        return OutboxMessage.objects.none()
    return _same_place(message).filter(pk__lt=message.pk)


def _queue_next(message: OutboxMessage) -> None:
    """After ``message`` is done, deliver the next message waiting for the same place
    (a second later: the channel's posting slot is taken for that long)."""
    if message.kind in UNORDERED_KINDS:
        return
    following = _same_place(message).exclude(pk=message.pk).order_by("pk").values_list("pk", flat=True).first()
    if following is None:
        return
    delay = max(getattr(settings, "SLACK_CHANNEL_SLOT_SECONDS", 1), 0)
    # robust: if the broker is down the beat re-queues it.
    transaction.on_commit(lambda: deliver_outbox_message.apply_async(args=[following], countdown=delay), robust=True)


def _leave_pending(message: OutboxMessage, why: str, countdown: float | None = None) -> str:
    """Stop retrying this job; the message stays pending. With a ``countdown``
    (embedded mode) a timer tries again; in a worker the beat re-queues it."""
    message.last_error = why[:2000]
    message.save(update_fields=["last_error"])
    if countdown is not None:
        _retry_in_process_later(message.pk, countdown)
    return "deferred"


def _retry_in_process_later(message_id: int, countdown: float) -> None:
    """Embedded mode (``make run``) has no broker and no beat, so a deferred
    message would wait forever: try it again on a timer thread instead.

    Only with DEBUG on (the embedded mode's default): elsewhere eager mode means
    tests, which deliver pending messages explicitly.
    """
    if not settings.DEBUG:
        return

    def run() -> None:
        try:
            deliver_outbox_message.apply(args=[message_id])
        finally:
            connections.close_all()

    timer = threading.Timer(countdown, run)
    timer.daemon = True
    timer.start()


#: How long past its planned retry a message counts as having lost its retry job.
RETRY_GRACE_SECONDS = 30


def _retry_key(message_id: int) -> str:
    return f"slack:outbox:retry:{message_id}"


def _note_retry(message_id: int, countdown: float) -> None:
    """Remember that a retry is scheduled, so the beat does not start a second
    chain of attempts beside it (which would use up MAX_ATTEMPTS twice as fast)."""
    try:
        cache.set(_retry_key(message_id), 1, timeout=int(countdown) + RETRY_GRACE_SECONDS)
    except Exception:  # the cache is Redis, like the broker: the retry is lost too
        logger.warning("Could not note the retry of Slack message %s", message_id, exc_info=True)


def _retries_scheduled(ids: list[int]) -> set[int]:
    try:
        noted = cache.get_many([_retry_key(i) for i in ids])
    except Exception:
        return set()
    return {i for i in ids if _retry_key(i) in noted}


@shared_task
def deliver_pending_outbox(older_than_seconds: int = 30) -> int:
    """Beat: re-queue pending messages whose delivery job was lost (not those
    waiting for a retry that is scheduled). Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    scheduled = _retries_scheduled(ids)
    lost = [i for i in ids if i not in scheduled]
    for message_id in lost:
        deliver_outbox_message.delay(message_id)
    return len(lost)


# --- Web API calls listeners hand off (they must ack within 3 s) -------------------


@shared_task(acks_late=True)
def open_view(team_id: str, trigger_id: str, view: dict) -> str:
    """Open a modal. A trigger id lives 3 s, so this is not retried."""
    from slackbot import web

    return web.open_view(team_id=team_id, trigger_id=trigger_id, view=view)


@shared_task(acks_late=True)
def respond(response_url: str, payload: dict) -> str:
    """Answer an interaction through its ``response_url`` (ephemeral or replacing it)."""
    from slackbot import web

    return web.respond(response_url=response_url, payload=payload)


@shared_task(acks_late=True)
def link_slack_user(team_id: str, slack_user_id: str) -> str:
    """Find which member a Slack user is (users.info → e-mail) and remember it."""
    from slackbot import people

    user = people.link_by_slack_profile(team_id=team_id, slack_user_id=slack_user_id)
    return "linked" if user else "not linked"
