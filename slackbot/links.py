"""Linking a Slack user to an org member by hand, from a one-time link.

An unmapped Slack user's ephemeral reply carries
``<SITE_URL>/<org_slug>/preferences/slack-link/<token>/``. The token is signed
(``SECRET_KEY``, salt ``slack-link``), names the team and the Slack user, and
expires after ``LINK_MAX_AGE`` seconds. Following it as a signed-in member of
that org and confirming (POST) links that Slack user to that member. Only the
Slack user saw the ephemeral message, so only they can hand the link on; a
Slack user already linked to another member is never taken over.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from incidentio.common.errors import ServiceError
from incidentio.common.text import full_stop
from slackbot.models import SlackUserLink, SlackWorkspace

SALT = "slack-link"
LINK_MAX_AGE = 15 * 60


class LinkTokenInvalid(Exception):
    """The token is forged, malformed or expired; ``str()`` says which, for the user."""


@dataclass(frozen=True)
class LinkClaim:
    team_id: str
    slack_user_id: str


def make_link_token(*, team_id: str, slack_user_id: str) -> str:
    return signing.dumps({"team": team_id, "slack_user": slack_user_id}, salt=SALT)


def link_url(workspace: SlackWorkspace, slack_user_id: str) -> str:
    token = make_link_token(team_id=workspace.team_id, slack_user_id=slack_user_id)
    path = reverse("slack_account_link", kwargs={"org_slug": workspace.org.slug, "token": token})
    return settings.SITE_URL.rstrip("/") + path


def read_link_token(token: str) -> LinkClaim:
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkTokenInvalid("This link has expired (links last 15 minutes). Run /inc again in Slack for a new one.") from None
    except signing.BadSignature:
        raise LinkTokenInvalid("This link is not valid. Run /inc again in Slack for a new one.") from None
    if not isinstance(data, dict) or not isinstance(data.get("team"), str) or not isinstance(data.get("slack_user"), str):
        raise LinkTokenInvalid("This link is not valid. Run /inc again in Slack for a new one.")
    if not data["team"] or not data["slack_user"]:
        raise LinkTokenInvalid("This link is not valid. Run /inc again in Slack for a new one.")
    return LinkClaim(team_id=data["team"], slack_user_id=data["slack_user"])


def workspace_for_claim(*, org, claim: LinkClaim) -> SlackWorkspace | None:
    """The org's workspace if the token was issued for it; None otherwise (→ 404)."""
    return SlackWorkspace.objects.filter(org=org, team_id=claim.team_id).first()


def slack_link_for(*, org, user) -> SlackUserLink | None:
    return SlackUserLink.objects.filter(org=org, user=user).first()


def _is_member(org, user_id) -> bool:
    from orgs.models import Membership

    return Membership.objects.filter(org=org, user_id=user_id).exists()


def slack_link_claim(*, workspace: SlackWorkspace, user, slack_user_id: str) -> SlackUserLink:
    """Link ``slack_user_id`` to ``user`` in the workspace's org.

    Refused when that Slack user is already another member's. A member linked
    to a different Slack user is re-linked to this one.
    """
    org = workspace.org
    try:
        with transaction.atomic():
            taken = (
                SlackUserLink.objects.select_for_update()
                .filter(org=org, slack_user_id=slack_user_id)
                .first()
            )
            if taken is not None and taken.user_id != user.pk and not _is_member(org, taken.user_id):
                taken.delete()  # left over from someone who left the org
                taken = None
            if taken is not None and taken.user_id != user.pk:
                raise ServiceError(
                    f"That Slack user is already linked to another member of {full_stop(org.name)} "
                    "Nothing was changed; ask them to unlink it from their Preferences first."
                )
            if taken is not None:
                return taken
            link, _ = SlackUserLink.objects.update_or_create(
                org=org, user=user, defaults={"slack_user_id": slack_user_id, "created_at": timezone.now()}
            )
            return link
    except IntegrityError:
        raise ServiceError(
            f"That Slack user is already linked to another member of {full_stop(org.name)} Nothing was changed."
        ) from None


def slack_unlink(*, org, user) -> bool:
    deleted, _ = SlackUserLink.objects.filter(org=org, user=user).delete()
    return bool(deleted)
