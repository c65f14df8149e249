"""The outbox: messages bound for Slack, written in the same transaction as the
change they report, and delivered afterwards by Celery (DESIGN §5)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from orgs.models import Organization


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="outbox_messages")
    incident = models.ForeignKey(
        "incidentio.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox_messages"
    )
    #: What the message is about, e.g. ``learning.tasks_posted`` or ``learning.opted_out``.
    kind = models.CharField(max_length=64)
    #: Where it goes: ``incident_channel`` or ``dm:<user id>``.
    destination = models.CharField(max_length=64, default="incident_channel")
    text = models.TextField()
    blocks = models.JSONField(default=list, blank=True)
    #: Makes enqueueing idempotent: the same fact is queued once.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "created_at"], name="outbox_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.destination} ({self.state})"
