"""Reads for webhooks. Endpoints are always fetched through their org."""

from __future__ import annotations

from django.db.models import QuerySet

from incidentio.common.lookups import get_or_404
from orgs.models import Organization
from webhooks.models import WebhookDelivery, WebhookEndpoint

DELIVERY_LOG_SIZE = 50


def endpoint_list(*, org: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(org=org).order_by("created_at", "pk")


def endpoint_get(*, org: Organization, public_id) -> WebhookEndpoint:
    """An endpoint of ``org``; the same 404 for a missing one and another org's."""
    return get_or_404(WebhookEndpoint.objects.select_related("org").filter(org=org), "webhook endpoint",
                      public_id=public_id)


def delivery_log(*, endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_SIZE) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (payloads left out)."""
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .defer("payload")
        .order_by("-created_at", "-pk")[:limit]
    )
