"""Connecting and disconnecting a workspace; retrying failed messages."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from incidentio.common.errors import ServiceError
from slackbot.client import slack_client
from slackbot.errors import SlackError, call_slack
from slackbot.models import OutboxMessage, OutboxState, SlackWorkspace


@transaction.atomic
def slack_workspace_connect(
    *, org, team_id: str, bot_token: str, bot_user_id: str = "", bot_id: str = "", team_name: str = "",
    app_id: str = "", enterprise_id: str = "", scopes: str = "", installed_by=None,
) -> SlackWorkspace:
    """Bind a workspace to ``org`` (OAuth install or ``slack_connect``).

    A workspace belongs to one org: connecting it to another is refused; an
    org reconnecting its own workspace (or a new one) replaces the old binding.
    """
    team_id = (team_id or "").strip()
    bot_token = (bot_token or "").strip()
    if not team_id.startswith(("T", "E")):
        raise ServiceError("A Slack team id looks like T0123ABCD.", field="team_id")
    if not bot_token.startswith("xoxb-"):
        raise ServiceError("A bot token starts with xoxb-.", field="bot_token")
    other = SlackWorkspace.objects.select_for_update().filter(team_id=team_id).exclude(org=org).first()
    if other is not None:
        raise ServiceError("That Slack workspace is connected to another organization.", field="team_id")
    workspace, _ = SlackWorkspace.objects.update_or_create(
        org=org,
        defaults=dict(
            team_id=team_id, bot_token=bot_token, bot_user_id=bot_user_id, bot_id=bot_id, team_name=team_name,
            app_id=app_id, enterprise_id=enterprise_id or "", bot_scopes=scopes, installed_by=installed_by,
            installed_at=timezone.now(), token_invalid_at=None,
        ),
    )
    return workspace


def slack_workspace_connect_with_token(*, org, bot_token: str, installed_by=None) -> SlackWorkspace:
    """Connect the workspace a pasted bot token belongs to (Settings → Slack, no OAuth).

    Slack says whose token it is (``auth.test``): the admin pastes one value,
    and a token Slack refuses connects nothing.
    """
    bot_token = (bot_token or "").strip()
    if not bot_token.startswith("xoxb-"):
        raise ServiceError("A bot token starts with xoxb-.", field="bot_token")
    try:
        info = call_slack(slack_client(bot_token).auth_test)
    except SlackError as exc:
        raise ServiceError(
            f"Slack did not accept this token ({exc}). Copy the Bot User OAuth Token again "
            "from your app's OAuth & Permissions page.",
            field="bot_token",
        ) from exc
    return slack_workspace_connect(
        org=org, team_id=info.get("team_id", ""), bot_token=bot_token, bot_user_id=info.get("user_id", "") or "",
        bot_id=info.get("bot_id", "") or "", team_name=info.get("team", "") or "", installed_by=installed_by,
    )


@transaction.atomic
def slack_workspace_disconnect(*, workspace: SlackWorkspace) -> None:
    SlackWorkspace.objects.filter(pk=workspace.pk).delete()


@transaction.atomic
def outbox_retry(*, org, public_id) -> OutboxMessage:
    """Send a failed message again (the settings page's retry button)."""
    message = OutboxMessage.objects.select_for_update().filter(org=org, public_id=public_id).first()
    if message is None:
        raise ServiceError("No such message.")
    if message.state != OutboxState.FAILED:
        return message
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.save(update_fields=["state", "attempts"])
    from slackbot.tasks import queue_delivery

    message_id, kind = message.pk, message.kind
    transaction.on_commit(lambda: queue_delivery(message_id, kind))
    return message
