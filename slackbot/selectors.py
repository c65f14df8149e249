"""Reads for the Slack settings page."""

from __future__ import annotations

from slackbot.models import OutboxMessage, OutboxState, SlackWorkspace


def workspace_for_org(*, org) -> SlackWorkspace | None:
    return SlackWorkspace.objects.filter(org=org).first()


def failed_messages(*, org, limit: int = 50):
    return (
        OutboxMessage.objects.filter(org=org, state=OutboxState.FAILED)
        .select_related("incident")
        .order_by("-created_at", "-pk")[:limit]
    )


def pending_count(*, org) -> int:
    return OutboxMessage.objects.filter(org=org, state=OutboxState.PENDING).count()
