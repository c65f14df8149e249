"""What every listener needs: the org of the team, the member behind the Slack
user, the incident a command is about, and replies that never call Slack inline.

Payloads are signed by Slack but their fields are still input: ids that are not
UUIDs, JSON that does not parse and missing fields are answered with a
``Refusal`` (an ephemeral "nothing was changed"), never an exception in Bolt.
"""

from __future__ import annotations

import re
import uuid

from django.db import transaction
from django.http import Http404

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Incident
from slackbot.formatting import escape, link
from slackbot.people import SlackMember, member_for_slack_user

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
MALFORMED = "Slack sent this without what it needs (it may be out of date): nothing was changed. Try again."


class Refusal(Exception):
    """Stop here and tell the Slack user ``str(self)`` (ephemerally).

    The message is mrkdwn: user-written text in it is escaped by whoever raises it.
    """


def error_reply(error: Exception) -> str:
    """The ephemeral answer to a refused action. A ``ServiceError`` is plain text
    (the dashboard and the API show it too) that may quote user input: escaped."""
    if isinstance(error, Refusal):
        return str(error)
    if isinstance(error, ServiceError):
        return f":warning: {escape(error)}"
    raise TypeError(f"not an answer for the user: {error!r}")


def parse_public_id(value) -> uuid.UUID | None:
    """A public id from a payload (a button value, a ``block_id``, modal metadata), or None."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def dig(data, *keys):
    """``data[k1][k2]…``, or None as soon as a level is missing or not a dict/list."""
    for key in keys:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def slack_user_of(body: dict) -> str:
    """The Slack user behind an interaction (``user.id``) or a command (``user_id``)."""
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else body.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise Refusal(MALFORMED)
    return user_id


def unmapped_text(workspace, slack_user_id: str) -> str:
    from slackbot.links import link_url

    return (
        f"I can't tell which {escape(workspace.org.name)} member you are: your Slack e-mail address "
        "doesn't match an incidentio account in this organization. Nothing was changed.\n"
        f"If you have an account there, link this Slack user to it (sign in, then confirm; the link "
        f"lasts 15 minutes, don't share it): {link(link_url(workspace, slack_user_id))}\n"
        "Otherwise ask an admin to invite your address."
    )


def member_or_refuse(workspace, slack_user_id: str, *, write: bool) -> SlackMember:
    member = member_for_slack_user(workspace, slack_user_id)
    if member is None:
        raise Refusal(unmapped_text(workspace, slack_user_id))
    if write and not member.membership.may_write:
        raise Refusal(
            f"Your role in {escape(workspace.org.name)} ({member.membership.get_role_display()}) doesn't allow "
            "this: you're not allowed to change incidents. Nothing was changed."
        )
    return member


def actor_for(member: SlackMember, slack_name: str = "") -> Actor:
    return Actor.for_slack_user(
        # The timeline shows the member as the dashboard does, not their Slack handle.
        slack_user_id=member.slack_user_id, name=member.user.display_name or slack_name, user=member.user
    )


def found_or_refuse(get, refusal: str, **key):
    """``get(**key)``, one of the selectors every surface fetches an org's
    object with (``incidentio.incidents.selectors.incident_get``…); its one 404 for a
    missing object, another org's and a malformed id becomes ``refusal``."""
    try:
        return get(**key)
    except Http404:
        raise Refusal(refusal) from None


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

    url = body.get("response_url") or dig(body, "response_urls", 0, "response_url")
    if not isinstance(url, str) or not url:
        return
    payload = {"text": text, "response_type": "ephemeral", "replace_original": replace_original}
    if blocks is not None:
        payload["blocks"] = blocks
    after_commit(respond, url, payload)
