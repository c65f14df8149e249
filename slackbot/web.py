"""Web API calls made on behalf of listeners, from Celery (see ``slackbot.tasks``)."""

from __future__ import annotations

import logging

from slack_sdk.webhook import WebhookClient

from slackbot.client import workspace_client
from slackbot.errors import SlackError, call_slack
from slackbot.people import workspace_for_team

logger = logging.getLogger("incidentio.slack")


def open_view(*, team_id: str, trigger_id: str, view: dict) -> str:
    workspace = workspace_for_team(team_id)
    if workspace is None:
        return "no workspace"
    try:
        call_slack(workspace_client(workspace, timeout=3).views_open, trigger_id=trigger_id, view=view)
    except SlackError as exc:
        logger.warning("views.open failed: %s", exc)
        return f"failed: {exc.error or exc}"
    return "opened"


def respond(*, response_url: str, payload: dict) -> str:
    try:
        response = WebhookClient(response_url, timeout=10).send_dict(payload)
    except Exception as exc:  # broad on purpose: a lost ephemeral note is not worth a retry
        logger.warning("response_url post failed: %r", exc)
        return "failed"
    return "sent" if response.status_code == 200 else f"failed: {response.status_code}"
