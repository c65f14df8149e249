"""Registering webhook endpoints, queueing deliveries and attempting one.

Queueing follows the outbox pattern: ``deliveries_enqueue`` writes one
WebhookDelivery per subscribed endpoint in the caller's transaction and starts
the Celery job on commit. A delivery whose job was lost (Redis down at
commit, a worker killed) stays pending and the beat task re-queues it.

Retries: a failed attempt is retried with exponential backoff (10 s, 20 s,
40 s … at most 30 min apart) until it succeeds or 24 hours have passed since
the event; then the delivery fails and the endpoint is disabled with the
reason, until an admin re-enables it. A 410 Gone disables it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from incidentio.errors import ServiceError
from orgs.models import Organization, User
from webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEventType
from webhooks.transport import DeliveryError, is_public_host_literal, send

MAX_ENDPOINTS_PER_ORG = 20
#: A retry may fire this early (clocks of two workers differ a little).
DUE_SLACK = timedelta(seconds=2)



def retry_base_seconds() -> float:
    return getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", 10)


def retry_max_seconds() -> float:
    return getattr(settings, "WEBHOOK_RETRY_MAX_SECONDS", 30 * 60)


def retry_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 60 * 60))


# --- Endpoints ----------------------------------------------------------------------------------

_url_validator = URLValidator(schemes=["http", "https"])
URL_ERROR = "Enter an http:// or https:// URL, e.g. https://example.com/webhooks/incidentio."


def clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ServiceError("Keep the URL under 2,000 characters.", field="url")
    try:
        _url_validator(url)
    except ValidationError:
        raise ServiceError(URL_ERROR, field="url") from None
    host = urlsplit(url).hostname or ""
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and not is_public_host_literal(host):
        raise ServiceError("Webhook URLs must point at a public address, not a private or local one.", field="url")
    return url


def clean_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in WebhookEventType.values]
    if unknown:
        raise ServiceError(f"Unknown event “{unknown[0]}”.", field="events")
    if not events:
        raise ServiceError("Choose at least one event to send.", field="events")
    return [e for e in WebhookEventType.values if e in events]  # canonical order, no repeats


@transaction.atomic
def endpoint_create(*, org: Organization, url: str, events: list[str], created_by: User | None) -> WebhookEndpoint:
    url = clean_url(url)
    events = clean_events(events)
    if WebhookEndpoint.objects.filter(org=org).count() >= MAX_ENDPOINTS_PER_ORG:
        raise ServiceError(f"An organization can have at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints.")
    return WebhookEndpoint.objects.create(org=org, url=url, events=events, created_by=created_by)


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; a job about to send finds nothing."""
    endpoint.delete()


def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Re-enable a disabled endpoint. Deliveries given up on are not replayed."""
    endpoint.is_active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "consecutive_failures"])
    return endpoint


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to ``endpoint``; its pending deliveries fail instead of being sent."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:2000]
    )
    endpoint.is_active = False
    # skip_locked: a delivery another worker is sending right now is left to it
    # (it finds the endpoint disabled on its next attempt). Waiting for it here
    # could deadlock, since that worker next updates this endpoint's row.
    pending = list(
        WebhookDelivery.objects.select_for_update(skip_locked=True)
        .filter(endpoint_id=endpoint.pk, state=DeliveryState.PENDING)
        .values_list("pk", flat=True)
    )
    WebhookDelivery.objects.filter(pk__in=pending).update(
        state=DeliveryState.FAILED, last_error="Not sent: the endpoint was disabled."
    )


# --- Deliveries ---------------------------------------------------------------------------------


def subscribed_endpoints(*, org_id: int) -> list[WebhookEndpoint]:
    """The org's active endpoints (one query; most orgs have none)."""
    return list(WebhookEndpoint.objects.filter(org_id=org_id, is_active=True).order_by("pk"))


def deliveries_enqueue(
    *, endpoints: list[WebhookEndpoint], event_type: str, event_id, payload: dict
) -> list[WebhookDelivery]:
    """Queue ``payload`` for each of ``endpoints`` (of one org) that is subscribed to ``event_type``.

    Call inside the transaction of the change the event reports: the rows
    commit or roll back with it, and the jobs start only after commit.
    """
    endpoints = [e for e in endpoints if e.is_active and e.subscribes_to(event_type)]
    deliveries = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint, event_type=event_type, event_id=event_id, payload=payload
                )
        except IntegrityError:
            continue  # this event was queued for this endpoint before
        deliveries.append(delivery)
    if deliveries:
        from webhooks.tasks import deliver_webhook

        for delivery in deliveries:
            # robust: if Redis is down the change still stands; the beat task
            # re-queues the pending delivery later.
            transaction.on_commit(_starter(deliver_webhook, delivery.pk), robust=True)
    return deliveries


def _starter(task, delivery_id: int):
    def start_delivery():
        task.delay(delivery_id)

    return start_delivery


@dataclass(frozen=True)
class Attempt:
    """What ``delivery_attempt`` did: ``outcome`` is delivered, retry, failed,
    not pending or not due; ``retry_in`` (seconds) is set for a retry."""

    outcome: str
    retry_in: float | None = None


def _backoff(attempts: int) -> float:
    return min(retry_base_seconds() * 2 ** max(attempts - 1, 0), retry_max_seconds())


def delivery_attempt(*, delivery_id: int) -> Attempt:
    """Send one pending, due delivery once; safe to call twice or concurrently.

    The delivery row stays locked while the request is made, so two jobs for
    one delivery (a retry and a re-queued lost job) never both send it.
    """
    with transaction.atomic():
        # skip_locked: a second job for the same delivery moves on at once.
        # of=("self",): only the delivery row is locked, not its endpoint.
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, state=DeliveryState.PENDING)
            .first()
        )
        if delivery is None:
            return Attempt("not pending")
        if delivery.next_attempt_at > timezone.now() + DUE_SLACK:
            return Attempt("not due")  # its own retry, or the beat, comes back for it
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            delivery.state = DeliveryState.FAILED
            delivery.last_error = "Not sent: the endpoint was disabled."
            delivery.save(update_fields=["state", "last_error"])
            return Attempt("failed")

        delivery.attempts += 1
        try:
            status_code = send(
                url=endpoint.url, secret=endpoint.secret, event_id=str(delivery.event_id), payload=delivery.payload
            )
        except DeliveryError as exc:
            return _attempt_failed(delivery, endpoint, exc)
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_status_code = status_code
        delivery.last_error = ""
        delivery.save(update_fields=["state", "delivered_at", "last_status_code", "last_error", "attempts"])
        WebhookEndpoint.objects.filter(pk=endpoint.pk, consecutive_failures__gt=0).update(consecutive_failures=0)
        return Attempt("delivered")


def _attempt_failed(delivery: WebhookDelivery, endpoint: WebhookEndpoint, exc: DeliveryError) -> Attempt:
    now = timezone.now()
    delivery.last_status_code = exc.status_code
    delivery.last_error = str(exc)[:2000]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    give_up_at = delivery.created_at + retry_window()
    if exc.permanent or now >= give_up_at:
        delivery.state = DeliveryState.FAILED
        delivery.save(update_fields=["state", "attempts", "last_status_code", "last_error"])
        if exc.permanent:
            reason = f"The receiver answered {exc}: it asked not to be called again."
        else:
            hours = retry_window().total_seconds() / 3600
            reason = (
                f"A delivery failed for {hours:g} hours ({delivery.attempts} attempts); "
                f"last error: {exc}"
            )
        endpoint_disable(endpoint=endpoint, reason=reason)
        return Attempt("failed")
    delivery.next_attempt_at = min(now + timedelta(seconds=_backoff(delivery.attempts)), give_up_at)
    delivery.save(update_fields=["attempts", "next_attempt_at", "last_status_code", "last_error"])
    return Attempt("retry", retry_in=max((delivery.next_attempt_at - now).total_seconds(), 0))


def deliveries_due(*, grace: timedelta, limit: int = 1000) -> list[int]:
    """Pending deliveries whose next attempt is overdue by more than ``grace``:
    their job was lost. (An on-time retry is not re-queued.)"""
    cutoff = timezone.now() - grace
    return list(
        WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
