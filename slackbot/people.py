"""Who is who: a Slack team → its org's workspace, a Slack user ↔ an org member.

A Slack user maps to a member by e-mail, looked up once through the Web API
and remembered in ``SlackUserLink``; later requests never call Slack for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction

from orgs.models import Membership, User
from slackbot.client import workspace_client
from slackbot.errors import SlackApiError, SlackRateLimited, SlackTransientError, call_slack
from slackbot.models import SlackUserLink, SlackWorkspace

logger = logging.getLogger("incidentio.slack")

#: Seconds an inline lookup (inside a listener's 3-second window) may take.
INLINE_TIMEOUT = 1.5


@dataclass(frozen=True)
class SlackMember:
    user: User
    membership: Membership
    slack_user_id: str


def workspace_for_team(team_id: str | None) -> SlackWorkspace | None:
    if not team_id:
        return None
    return SlackWorkspace.objects.select_related("org").filter(team_id=team_id).first()


def _remember(workspace: SlackWorkspace, user: User, slack_user_id: str) -> None:
    try:
        with transaction.atomic():
            SlackUserLink.objects.update_or_create(
                org=workspace.org, user=user, defaults={"slack_user_id": slack_user_id}
            )
    except IntegrityError:
        pass  # another request linked them at the same moment


def _member_by_email(workspace: SlackWorkspace, email: str | None) -> Membership | None:
    if not email:
        return None
    return (
        Membership.objects.select_related("user")
        .filter(org=workspace.org, user__email__iexact=email.strip())
        .first()
    )


UNMAPPED_TTL_SECONDS = 300


def member_for_slack_user(
    workspace: SlackWorkspace, slack_user_id: str, *, lookup: bool = True, timeout: float = INLINE_TIMEOUT
) -> SlackMember | None:
    """The org member this Slack user is, or None (not linked, not a member any more)."""
    link = (
        SlackUserLink.objects.select_related("user")
        .filter(org=workspace.org, slack_user_id=slack_user_id)
        .first()
    )
    if link is not None:
        membership = Membership.objects.filter(org=workspace.org, user=link.user).first()
        return SlackMember(link.user, membership, slack_user_id) if membership else None
    if not lookup:
        return None
    # A Slack user who is not a member would otherwise cost a users.info call on
    # every command (inside Slack's 3 s): remember the answer for a few minutes.
    # Linking from the dashboard writes a SlackUserLink, which is read first.
    unknown_key = f"slack:unmapped:{workspace.team_id}:{slack_user_id}"
    if cache.get(unknown_key):
        return None
    try:
        email = _slack_email(workspace, slack_user_id, timeout=timeout)
    except (SlackTransientError, SlackRateLimited) as exc:
        # Slack did not answer (timeout, 5xx, 429): not an answer to remember,
        # or a real member would be turned away for minutes after a blip.
        logger.info("users.info for %s did not answer: %s", slack_user_id, exc)
        return None
    membership = _member_by_email(workspace, email)
    if membership is None:
        cache.set(unknown_key, True, timeout=UNMAPPED_TTL_SECONDS)
        return None
    _remember(workspace, membership.user, slack_user_id)
    return SlackMember(membership.user, membership, slack_user_id)


def _slack_email(workspace: SlackWorkspace, slack_user_id: str, *, timeout: float) -> str | None:
    client = workspace_client(workspace, timeout=timeout)
    try:
        response = call_slack(client.users_info, user=slack_user_id)
    except SlackApiError as exc:  # Slack answered: no such user, no access, …
        logger.info("users.info for %s failed: %s", slack_user_id, exc)
        return None
    return ((response.get("user") or {}).get("profile") or {}).get("email")


def link_by_slack_profile(*, team_id: str, slack_user_id: str) -> User | None:
    workspace = workspace_for_team(team_id)
    if workspace is None:
        return None
    found = member_for_slack_user(workspace, slack_user_id, timeout=10)
    return found.user if found else None


class NoSlackAccount(Exception):
    """The member has no user in the workspace (Slack said ``users_not_found``)."""


def slack_id_for_user(workspace: SlackWorkspace, user: User) -> str:
    """The member's Slack user id: remembered, or looked up by e-mail once.

    Raises ``NoSlackAccount`` when Slack knows no such e-mail, and the typed
    errors of ``slackbot.errors`` when the lookup itself fails.
    """
    link = SlackUserLink.objects.filter(org=workspace.org, user=user).first()
    if link is not None:
        return link.slack_user_id
    client = workspace_client(workspace)
    try:
        response = call_slack(client.users_lookupByEmail, email=user.email)
    except SlackApiError as exc:
        if exc.error == "users_not_found":
            raise NoSlackAccount(user.email) from exc
        raise
    slack_user_id = response["user"]["id"]
    _remember(workspace, user, slack_user_id)
    return slack_user_id


def known_slack_ids(org, user_ids) -> dict[int, str]:
    """Member id → Slack user id for those already linked (no API call)."""
    ids = [pk for pk in set(user_ids) if pk]
    if not ids:
        return {}
    return dict(SlackUserLink.objects.filter(org=org, user_id__in=ids).values_list("user_id", "slack_user_id"))
