"""The outbox: messages bound for Slack, written in the same transaction as the
change they report, and delivered afterwards by Celery (docs/slack.md)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from incidentio.common.encryption import EncryptedTextField
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
    #: Where it goes: ``incident_channel``, ``dm:<user id>``, ``channel:<Slack channel id>``
    #: or ``email:<address>`` (an address is up to 254 characters).
    destination = models.CharField(max_length=320, default="incident_channel")
    text = models.TextField()
    blocks = models.JSONField(default=list, blank=True)
    #: Facts the transport needs to render the message (e.g. the learning status).
    data = models.JSONField(default=dict, blank=True)
    #: Makes enqueueing idempotent: the same fact is queued once.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: A worker is delivering this message until then; another one leaves it alone.
    #: Committed before any Slack call, so it outlives a worker that is killed.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: A post of this message may have reached Slack since then without the
    #: product knowing (a killed worker, a timed-out ``chat.postMessage``): before
    #: posting, look for it in the channel's history (docs/slack.md "Exactly once").
    in_doubt_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "created_at"], name="outbox_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.destination} ({self.state})"


class SlackWorkspace(models.Model):
    """A Slack workspace connected to one organization (OAuth or ``slack_connect``)."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="slack_workspace")
    team_id = models.CharField(max_length=32, unique=True)
    team_name = models.CharField(max_length=200, blank=True)
    enterprise_id = models.CharField(max_length=32, blank=True)
    app_id = models.CharField(max_length=32, blank=True)
    #: Encrypted at rest and never shown in the product: nothing needs to read it but the Slack client.
    bot_token = EncryptedTextField()
    bot_user_id = models.CharField(max_length=32, blank=True)
    bot_id = models.CharField(max_length=32, blank=True)
    bot_scopes = models.TextField(blank=True)
    installed_by = models.ForeignKey(
        "orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    installed_at = models.DateTimeField(default=timezone.now)
    #: Set when Slack says the token is revoked or invalid: reconnect from settings.
    token_invalid_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.team_name or self.team_id} → {self.org}"


class SlackUserLink(models.Model):
    """Which Slack user a member is, in the org's workspace (found by e-mail once)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="slack_user_links")
    user = models.ForeignKey("orgs.User", on_delete=models.CASCADE, related_name="slack_links")
    slack_user_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "slack_user_id"], name="slack_link_unique_slack_user"),
            models.UniqueConstraint(fields=["org", "user"], name="slack_link_unique_member"),
        ]

    def __str__(self) -> str:
        return f"{self.slack_user_id} = {self.user_id} in {self.org_id}"


class SlackMessage(models.Model):
    """A message the bot posted, kept so it can be updated in place (``chat.update``).

    ``key`` names what the message shows, e.g. ``tasks:<incident pk>:<status pk>``
    for the task message of one learning status of one incident.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="slack_messages")
    incident = models.ForeignKey(
        "incidentio.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="slack_messages"
    )
    outbox = models.OneToOneField(
        OutboxMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="slack_message"
    )
    key = models.CharField(max_length=120, blank=True)
    channel_id = models.CharField(max_length=32)
    ts = models.CharField(max_length=32)
    permalink = models.URLField(blank=True, max_length=500)
    #: A hash of the last blocks sent, so an unchanged re-render costs no API call.
    content_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "key"], name="slack_message_key_idx")]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.ts}"


class SlackOAuthState(models.Model):
    """An OAuth ``state`` handed out by "Add to Slack", bound to the org that asked."""

    state = models.CharField(max_length=64, unique=True)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("orgs.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    consumed_at = models.DateTimeField(null=True, blank=True)
