"""Fixtures the scenarios need that are cheaper to find than to generate, read
inside Django with the stack's own settings (its SECRET_KEY signs the cursor):

    python manage.py shell -c "from bench.prepare import main; main('bigcorp', '<member e-mail>', '<incident id>')"

prints one ``PREPARED {json}`` line.
"""

from __future__ import annotations

import json

from django.db.models import Count
from django.http import QueryDict

from incidentio.api.pagination import encode_cursor, list_kind
from incidentio.incidents.models import Incident
from learning.models import LearningTask
from orgs.models import ApiKeyRole, Membership, Organization
from orgs.services import api_key_create
from slackbot.models import SlackUserLink, SlackWorkspace

DEEP_ROW = 90_000
SLACK_USER = "UBENCH"
STATUS_CHANNELS = 20


def deep_cursor(org: Organization) -> tuple[str, int]:
    """The ``after`` cursor of ``GET /incidents?page_size=25`` near row 90,000 (or 90% in small data)."""
    total = Incident.objects.filter(org=org).count()
    row = min(DEEP_ROW, int(total * 0.9))
    number = Incident.objects.filter(org=org).order_by("-number").values_list("number", flat=True)[row]
    return encode_cursor(list_kind("incidents", QueryDict("page_size=25")), number), row


def small_org_comparator(big: Organization, like: Incident) -> dict:
    """The same pages on a small org: a query count must not depend on the data size.

    The small org's incident is one in the same state as ``like`` (the page
    shows other panels, with their own queries, for other states)."""
    org = (
        Organization.objects.exclude(pk=big.pk)
        .annotate(tasks=Count("learning_tasks", distinct=True)).filter(tasks__gt=0).order_by("pk").first()
    )
    task = LearningTask.objects.filter(org=org, assignee__isnull=False).select_related("assignee").first()
    member = Membership.objects.filter(org=org, user=task.assignee).get()
    _, key = api_key_create(org=org, name="bench", roles=list(ApiKeyRole.values), created_by=None)
    same_state = Incident.objects.filter(
        org=org, status__category=like.status.category, learning_flow=like.learning_flow,
        postmortem__isnull=not hasattr(like, "postmortem"),
    )
    incident = same_state.order_by("-number").first() or Incident.objects.filter(org=org).order_by("-number").first()
    return {
        "slug": org.slug, "api_key": key, "member_email": member.user.email, "member_id": str(member.public_id),
        "incident_id": str(incident.public_id), "deep_after": deep_cursor(org)[0],
    }


def slack_fixtures(org: Organization, member_email: str) -> dict:
    """Link the member to a Slack user, and pick incident channels for ``/inc status``."""
    workspace = SlackWorkspace.objects.get(org=org)
    member = Membership.objects.select_related("user").get(org=org, user__email=member_email)
    SlackUserLink.objects.update_or_create(org=org, user=member.user, defaults={"slack_user_id": SLACK_USER})
    incidents = Incident.objects.filter(org=org).exclude(slack_channel_id="").order_by("-number")[:STATUS_CHANNELS]
    return {
        "team_id": workspace.team_id, "user_id": SLACK_USER,
        "status_incidents": [{"incident_id": str(i.public_id), "channel": i.slack_channel_id} for i in incidents],
    }


def prepare(org_slug: str, member_email: str, timeline_incident_id: str) -> dict:
    org = Organization.objects.get(slug=org_slug)
    after, row = deep_cursor(org)
    like = Incident.objects.select_related("status").get(org=org, public_id=timeline_incident_id)
    return {
        "deep_after": after, "deep_row": row,
        "small": small_org_comparator(org, like),
        "slack": slack_fixtures(org, member_email),
    }


def main(org_slug: str, member_email: str, timeline_incident_id: str) -> None:
    print("PREPARED " + json.dumps(prepare(org_slug, member_email, timeline_incident_id)))
