"""What every listener needs: the org of the team, the member behind the Slack
user, the incident a command is about, and replies that never call Slack inline."""

from __future__ import annotations

import re

from django.db import transaction

from incidentio.actors import Actor
from incidentio.models import Incident
from orgs.models import Role
from slackbot.people import SlackMember, member_for_slack_user

REFERENCE = re.compile(r"^(?:INC-)?(\d+)$", re.IGNORECASE)
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class Refusal(Exception):
    """Stop here and tell the Slack user ``str(self)`` (ephemerally)."""


def unmapped_text(workspace, slack_user_id: str) -> str:
    from slackbot.links import link_url

    return (
        f"I can't tell which {workspace.org.name} member you are: your Slack e-mail address "
        "doesn't match an incidentio account in this organization. Nothing was changed.\n"
        f"If you have an account there, link this Slack user to it (sign in, then confirm; the link "
        f"lasts 15 minutes, don't share it): {link_url(workspace, slack_user_id)}\n"
        "Otherwise ask an admin to invite your address."
    )


def member_or_refuse(workspace, slack_user_id: str, *, write: bool) -> SlackMember:
    member = member_for_slack_user(workspace, slack_user_id)
    if member is None:
        raise Refusal(unmapped_text(workspace, slack_user_id))
    if write and not member.membership.has_role(Role.RESPONDER):
        raise Refusal(
            f"Your role in {workspace.org.name} ({member.membership.get_role_display()}) doesn't allow "
            "this: you're not allowed to change incidents. Nothing was changed."
        )
    return member


def actor_for(member: SlackMember, slack_name: str = "") -> Actor:
    return Actor.for_slack_user(
        # The timeline shows the member as the dashboard does, not their Slack handle.
        slack_user_id=member.slack_user_id, name=member.user.display_name or slack_name, user=member.user
    )


def incident_by_reference(org, reference: str) -> Incident | None:
    match = REFERENCE.match(reference.strip())
    if not match:
        return None
    return Incident.objects.select_related("status", "severity", "org").filter(org=org, number=int(match[1])).first()


def incident_in_channel(org, channel_id: str | None) -> Incident | None:
    if not channel_id:
        return None
    return Incident.objects.select_related("status", "severity", "org").filter(org=org, slack_channel_id=channel_id).first()


def mentioned_user(text: str) -> str | None:
    match = MENTION.search(text or "")
    return match[1] if match else None


def after_commit(task, *args) -> None:
    """Queue a Slack Web API call (``slackbot.tasks``) once the change has committed."""
    transaction.on_commit(lambda: task.delay(*args))


def respond_later(body: dict, text: str, *, replace_original: bool = False, blocks=None) -> None:
    from slackbot.tasks import respond

    url = body.get("response_url") or ((body.get("response_urls") or [{}])[0].get("response_url"))
    if not url:
        return
    payload = {"text": text, "response_type": "ephemeral", "replace_original": replace_original}
    if blocks is not None:
        payload["blocks"] = blocks
    after_commit(respond, url, payload)
