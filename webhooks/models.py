"""Webhook endpoints an org registers, and the deliveries made to them.

A WebhookDelivery is an outbox row: the timeline listener writes it in the
same transaction as the change it reports, and a Celery task sends it after
commit (see ``webhooks.services`` and ``webhooks.tasks``). A rolled-back
change therefore sends nothing.
"""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidentio.common.encryption import EncryptedTextField
from orgs.models import Organization
from webhooks.signing import SECRET_PREFIX


class WebhookEventType(models.TextChoices):
    INCIDENT_CREATED = "incident.created", "An incident is declared"
    INCIDENT_UPDATED = "incident.updated", "An incident's name, summary, severity, roles or timestamps change"
    INCIDENT_STATUS_CHANGED = (
        "incident.status_changed",
        "An incident changes status (accepted, declined, merged, closed, learning status, flow completed)",
    )
    INCIDENT_LEARNING_FLOW_OPTED_OUT = (
        "incident.learning_flow_opted_out",
        "An incident is opted out of the learning flow",
    )
    LEARNING_TASK_UPDATED = (
        "learning_task.updated",
        "A learning task is completed, marked not doing, reopened or assigned",
    )
    LEARNING_TASK_OVERDUE = "learning_task.overdue", "A learning task goes past its due date"
    FOLLOW_UP_OVERDUE = "follow_up.overdue", "A follow-up goes past its due date"


def generate_secret() -> str:
    """``whsec_`` and the base64 of a 32-byte HMAC key (Standard Webhooks' format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL of one org that receives the events it subscribes to.

    The secret is encrypted at rest, not hashed: every delivery is signed with
    it. The product shows it once, when it is made (``secret_hint`` after that).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = EncryptedTextField(default=generate_secret, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    #: Failed attempts since the last successful one (any delivery).
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["org", "is_active"], name="webhook_endpoint_org_idx")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell which one a receiver holds, e.g. ``whsec_…abcd``."""
        return f"{SECRET_PREFIX}…{self.secret.rstrip('=')[-4:]}"

    @property
    def subscribed_events(self) -> list[str]:
        """Its events, in the order the event list is documented."""
        return [e for e in WebhookEventType.values if e in self.events]


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event bound for one endpoint, retried until delivered or given up."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, choices=WebhookEventType.choices)
    #: The event's id (the ``webhook-id`` header and the payload's ``id``): the
    #: same on every attempt, so receivers can drop a repeat.
    event_id = models.UUIDField()
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One event reaches one endpoint once, however often it is enqueued.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"
