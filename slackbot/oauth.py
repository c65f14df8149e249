"""Installing the app into a workspace with OAuth ("Add to Slack"), bound to an org.

The org's Slack settings page links to ``/slack/install?org=<slug>``. This view
checks that the browser holds an admin session for that org, then Bolt's
``OAuthFlow`` issues a state — stored in ``SlackOAuthState`` *with the org* —
and redirects to Slack. ``/slack/oauth_redirect`` lets Bolt verify the state
(cookie and store) and exchange the code (``oauth.v2.access``, through
``SLACK_API_URL``); the installation is then bound to the state's org.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from slack_bolt.adapter.django.handler import to_bolt_request, to_django_response
from slack_bolt.error import BoltError
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Bot, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from orgs.models import Membership, Organization
from orgs.sessions import hash_is_current, held_session
from slackbot import app_setup
from slackbot.client import slack_client
from slackbot.models import SlackOAuthState, SlackWorkspace

BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:manage",
    "channels:read",
    "channels:join",
    # Reading back the bot's own posts (message metadata) after a lost answer:
    # how a message is posted exactly once (docs/slack.md).
    "channels:history",
    "groups:write",
    "groups:history",
    "im:write",
    "im:history",
    "users:read",
    "users:read.email",
]
STATE_TTL = timedelta(minutes=10)


class DjangoStateStore(OAuthStateStore):
    """OAuth states in the database, each bound to the org that asked."""

    @property
    def logger(self):
        import logging

        return logging.getLogger("incidentio.slack")

    def issue(self, *args, org_id: int | None = None, user_id: int | None = None, **kwargs) -> str:
        if org_id is None:
            raise BoltError("An install must start from an organization's Slack settings page.")
        state = secrets.token_urlsafe(32)
        SlackOAuthState.objects.create(state=state, org_id=org_id, user_id=user_id)
        return state

    def consume(self, state: str) -> bool:
        fresh = timezone.now() - STATE_TTL
        return bool(
            SlackOAuthState.objects.filter(state=state or "", consumed_at__isnull=True, created_at__gte=fresh)
            .update(consumed_at=timezone.now())
        )


class DjangoInstallationStore(InstallationStore):
    """Bolt reads bots from ``SlackWorkspace``; saving goes through ``OrgOAuthFlow``."""

    @property
    def logger(self):
        import logging

        return logging.getLogger("incidentio.slack")

    def save(self, installation):
        raise BoltError("Installations are saved with their org by OrgOAuthFlow.store_installation.")

    def find_bot(self, *, enterprise_id, team_id, is_enterprise_install=False):
        workspace = SlackWorkspace.objects.filter(team_id=team_id or "").first()
        if workspace is None:
            return None
        return Bot(
            enterprise_id=workspace.enterprise_id or None, team_id=workspace.team_id, bot_token=workspace.bot_token,
            bot_id=workspace.bot_id or None, bot_user_id=workspace.bot_user_id, installed_at=workspace.installed_at.timestamp(),
        )


class OrgOAuthFlow(OAuthFlow):
    def issue_new_state(self, request: BoltRequest) -> str:
        return self.settings.state_store.issue(
            org_id=request.context.get("incidentio_org_id"), user_id=request.context.get("incidentio_user_id")
        )

    def store_installation(self, request: BoltRequest, installation):
        from incidentio.common.errors import ServiceError
        from slackbot.services import slack_workspace_connect

        state = SlackOAuthState.objects.select_related("org").filter(
            state=request.query.get("state", [""])[0]
        ).first()
        if state is None or not installation.bot_token:
            raise BoltError("The install has no organization or no bot token.")
        try:
            slack_workspace_connect(
                org=state.org, team_id=installation.team_id, bot_token=installation.bot_token,
                bot_user_id=installation.bot_user_id or "", bot_id=installation.bot_id or "",
                team_name=installation.team_name or "", app_id=installation.app_id or "",
                enterprise_id=installation.enterprise_id or "", scopes=",".join(installation.bot_scopes or []),
                installed_by=state.user,
            )
        except ServiceError as error:
            raise BoltError(str(error)) from error
        request.context["incidentio_org_slug"] = state.org.slug


def _settings_url(org_slug: str) -> str:
    return reverse("settings_slack", args=[org_slug])


def _success(args):
    slug = args.request.context.get("incidentio_org_slug")
    return BoltResponse(status=302, body="", headers={"Location": _settings_url(slug) + "?installed=1"})


def _failure(args):
    return BoltResponse(
        status=args.suggested_status_code,
        body=f"The Slack install did not complete ({args.reason}). Go back to the organization's Slack settings and try again.",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )


def oauth_flow() -> OrgOAuthFlow | None:
    if not (settings.SLACK_CLIENT_ID and settings.SLACK_CLIENT_SECRET):
        return None
    return OrgOAuthFlow(
        client=slack_client(),
        settings=OAuthSettings(
            client_id=settings.SLACK_CLIENT_ID,
            client_secret=settings.SLACK_CLIENT_SECRET,
            scopes=BOT_SCOPES,
            redirect_uri=app_setup.redirect_url(),
            install_path="/slack/install",
            redirect_uri_path="/slack/oauth_redirect",
            install_page_rendering_enabled=False,
            installation_store=DjangoInstallationStore(),
            state_store=DjangoStateStore(),
            callback_options=CallbackOptions(success=_success, failure=_failure),
        ),
    )


def _admin_for(request, org_slug: str):
    held = held_session(request, org_slug)
    if held is None:
        return None
    membership = (
        Membership.objects.select_related("user", "org").filter(org__slug=org_slug, user_id=held.user_id).first()
    )
    if membership is None or not membership.is_admin or not hash_is_current(membership.user, held.auth_hash):
        return None
    return membership


def install(request):
    flow = oauth_flow()
    if flow is None:
        return HttpResponse("OAuth is not configured (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET); use slack_connect.",
                            status=404, content_type="text/plain")
    org_slug = request.GET.get("org", "")
    if not Organization.objects.filter(slug=org_slug).exists():
        return HttpResponse("Start from your organization's Slack settings page.", status=400, content_type="text/plain")
    membership = _admin_for(request, org_slug)
    if membership is None:
        return HttpResponse("Only an admin of this organization can connect Slack.", status=403, content_type="text/plain")
    bolt_request = to_bolt_request(request)
    bolt_request.context["incidentio_org_id"] = membership.org_id
    bolt_request.context["incidentio_user_id"] = membership.user_id
    return to_django_response(flow.handle_installation(bolt_request))


def oauth_redirect(request):
    flow = oauth_flow()
    if flow is None:
        return HttpResponse("OAuth is not configured.", status=404, content_type="text/plain")
    response = to_django_response(flow.handle_callback(to_bolt_request(request)))
    if response.status_code == 302:
        messages.success(request, "Slack is connected.")
    return response
