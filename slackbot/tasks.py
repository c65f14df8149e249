"""Celery tasks delivering the outbox and doing the Slack Web API calls that
listeners must not make inline. They take ids, re-fetch, and running one twice
is harmless: a message is sent only while it is pending, by the one worker
holding its lease, and a post that may have reached Slack unrecorded is looked
for in the channel before it is made again (docs/slack.md "Exactly once")."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from incidentio.config.celery import PRIORITY_BACKGROUND, PRIORITY_REFRESH
from slackbot.models import OutboxMessage, OutboxState
from slackbot.transports import ChannelBusy, DeliveryAttempt, TransportError, get_transport

logger = logging.getLogger("incidentio.slack")

MAX_ATTEMPTS = 8
#: Bound on re-schedules because the channel's one-message-per-second slot was
#: taken: they are not failures, but they must not go on forever either.
MAX_DEFERRALS = 120


class LeaseLost(Exception):
    """This attempt ran past its lease and another one has the message now:
    it must not record anything (the other attempt will find its post)."""


@shared_task(bind=True, max_retries=MAX_ATTEMPTS + MAX_DEFERRALS, acks_late=True, priority=PRIORITY_BACKGROUND)
def deliver_outbox_message(self, message_id: int) -> str:
    claimed = _claim(message_id)
    if isinstance(claimed, str):
        return claimed
    message, attempt = claimed
    try:
        _send(message, attempt)
        return "sent"
    except LeaseLost:
        logger.warning("Slack message %s: the delivery outlasted its lease; another attempt has it", message.pk)
        return "lease lost"
    except ChannelBusy as exc:
        # Not an attempt: another message to the same channel went out less
        # than a second ago. Come back a little later, with jitter so a
        # burst to one channel drains one message per second.
        if _release(message, attempt, error=str(exc)) is None:
            return "lease lost"
        countdown = exc.retry_after + random.uniform(0, 0.5)
        if self.request.is_eager:
            _retry_in_process_later(message.pk, countdown)
            return "deferred"
        if self.request.retries >= MAX_ATTEMPTS + MAX_DEFERRALS:
            return "deferred"  # stays pending: the beat re-queues it
    except TransportError as exc:
        attempts = _release(message, attempt, error=str(exc), count_attempt=True, fail=exc.permanent,
                            maybe_posted=exc.maybe_posted, hold_seconds=exc.settle_seconds)
        if attempts is None:
            return "lease lost"
        if exc.permanent or attempts >= MAX_ATTEMPTS:
            logger.warning("Slack message %s failed: %s", message.pk, exc)
            return "failed"
        # After a post with no answer, not before Slack has surely finished it.
        countdown = max(exc.retry_after or min(2**attempts, 300), exc.settle_seconds + 1)
        if self.request.is_eager:
            # In-process a retry would run at once, in this request.
            _retry_in_process_later(message.pk, countdown)
            return "deferred"
        _note_retry(message.pk, countdown)
    except BaseException:
        # Unexpected (a bug, the database gone): the post may have gone out. Free
        # the message for the beat but keep the doubt, so the next attempt looks
        # in the channel before posting; count it, so a message that always
        # breaks fails in the end instead of holding back its channel.
        try:
            _release(message, attempt, error="unexpected error (see the worker log)", count_attempt=True,
                     maybe_posted=True)
        except Exception:
            logger.warning("Could not release Slack message %s", message.pk, exc_info=True)
        raise
    # Retry without sleeping in the worker: the job goes back to the broker
    # with an ETA and this worker takes the next one.
    raise self.retry(countdown=countdown)


def _claim(message_id: int) -> tuple[OutboxMessage, DeliveryAttempt] | str:
    """Take the message for one delivery attempt: a lease committed before any
    Slack call, so a second worker leaves it alone and a killed worker's lease
    runs out (then the beat re-queues the message). Returns why not, or the
    message and the attempt."""
    now = timezone.now()
    with transaction.atomic():
        # skip_locked: a second worker claiming the same id moves on at once.
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
        if message.lease_expires_at is not None and message.lease_expires_at > now:
            return "in flight"
        if _earlier_pending(message).exists():
            # In order per channel: an older message to the same place goes first.
            # When it is sent (or fails for good) it re-queues this one
            # (_queue_next); the beat re-queues anything left pending.
            return "waiting for an earlier message"
        attempt = DeliveryAttempt(
            lease_expires_at=now + timedelta(seconds=settings.SLACK_DELIVERY_LEASE_SECONDS),
            recovering_since=message.in_doubt_since,
        )
        message.lease_expires_at = attempt.lease_expires_at
        message.in_doubt_since = message.in_doubt_since or now
        message.save(update_fields=["lease_expires_at", "in_doubt_since"])
    return message, attempt


def _held(message: OutboxMessage, attempt: DeliveryAttempt):
    """The message row, if ``attempt`` still holds it. The lease's expiry is the
    attempt's token: a claim sets a new one, so a late attempt finds nothing."""
    return OutboxMessage.objects.filter(
        pk=message.pk, state=OutboxState.PENDING, lease_expires_at=attempt.lease_expires_at
    )


def _send(message: OutboxMessage, attempt: DeliveryAttempt) -> None:
    transport = get_transport(message)
    with transaction.atomic():
        # Its own transaction: a channel Slack created is stored before anything
        # is posted into it, whatever happens to the post.
        transport.prepare(message)
    failure = None
    with transaction.atomic():
        try:
            transport.send(message, attempt)
        except TransportError as exc:
            # Slack said no (or did not answer): what was learnt on the way is
            # kept, e.g. a revoked token, or the task messages already edited.
            failure = exc
        else:
            sent = _held(message, attempt).update(
                state=OutboxState.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error="",
                lease_expires_at=None, in_doubt_since=None,
            )
            if not sent:
                raise LeaseLost  # rolls back the SlackMessage: the attempt holding it now finds the post
            _queue_next(message)
    if failure is not None:
        raise failure


def _release(message: OutboxMessage, attempt: DeliveryAttempt, *, error: str | None = None,
             count_attempt: bool = False, fail: bool = False, maybe_posted: bool = False,
             hold_seconds: float = 0) -> int | None:
    """End an attempt that did not deliver: give up the lease (or keep it for
    ``hold_seconds``, while a post with no answer may still land), record the
    error, and keep the doubt while a post of this message may be in Slack
    unrecorded. Returns the attempts made so far, or None when the attempt no
    longer held the message (then nothing is written)."""
    with transaction.atomic():
        message = _held(message, attempt).select_for_update().first()
        if message is None:
            return None
        message.lease_expires_at = timezone.now() + timedelta(seconds=hold_seconds) if hold_seconds else None
        if not (maybe_posted or attempt.doubt_open):
            message.in_doubt_since = None
        fields = ["lease_expires_at", "in_doubt_since"]
        if error is not None:
            message.last_error = error[:2000]
            fields.append("last_error")
        if count_attempt:
            message.attempts += 1
            fields.append("attempts")
        if fail or (count_attempt and message.attempts >= MAX_ATTEMPTS):
            message.state = OutboxState.FAILED
            fields.append("state")
            _queue_next(message)
        message.save(update_fields=fields)
    return message.attempts


#: Kinds that edit messages already posted (chat.update) instead of posting one:
#: they render the current state whenever they run, so they are not ordered.
UNORDERED_KINDS = ("learning.tasks_updated",)


def delivery_priority(kind: str) -> int:
    """Edits wait behind new posts and DMs (``incidentio.config.celery``)."""
    return PRIORITY_REFRESH if kind in UNORDERED_KINDS else PRIORITY_BACKGROUND


def queue_delivery(message_id: int, kind: str, **options) -> None:
    deliver_outbox_message.apply_async(args=[message_id], priority=delivery_priority(kind), **options)


@shared_task(acks_late=True, priority=PRIORITY_BACKGROUND)
def queue_deliveries(jobs: list) -> int:
    """Publish a delivery job per ``[message id, kind]`` (``outbox_enqueue_many``'s one job
    for a batch). Each message is then delivered as any other, with its own lease and
    retries; running this twice only publishes jobs that find their message taken or sent."""
    for message_id, kind in jobs:
        queue_delivery(message_id, kind)
    return len(jobs)


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
    # robust: if the broker is down the beat re-queues it. An ordered kind: the task's own priority.
    transaction.on_commit(lambda: deliver_outbox_message.apply_async(args=[following], countdown=delay), robust=True)


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
    rows = list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", "kind")[:1000]
    )
    scheduled = _retries_scheduled([pk for pk, _kind in rows])
    lost = [(pk, kind) for pk, kind in rows if pk not in scheduled]
    for message_id, kind in lost:
        queue_delivery(message_id, kind)
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


@shared_task(acks_late=True, priority=PRIORITY_BACKGROUND)
def link_slack_user(team_id: str, slack_user_id: str) -> str:
    """Find which member a Slack user is (users.info → e-mail) and remember it."""
    from slackbot import people

    user = people.link_by_slack_profile(team_id=team_id, slack_user_id=slack_user_id)
    return "linked" if user else "not linked"
