"""Settings → Slack (admins): the connection, "Add to Slack", failed messages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from incidentio.common.errors import ServiceError, add_service_error
from orgs.views.base import AdminView
from slackbot import app_setup, selectors, services
from slackbot.forms import BotTokenForm


class SlackSettingsView(AdminView):
    """For an org admin: "Add to Slack" first when this server has a Slack app
    (``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``); setting one up by hand (URLs,
    manifest, a bot token) behind a disclosure for self-hosters."""

    template_name = "slackbot/settings.html"

    def get(self, request, org_slug):
        return self.render(request, BotTokenForm())

    def post(self, request, org_slug):
        action = request.POST.get("action")
        if action == "retry":
            try:
                services.outbox_retry(org=self.org, public_id=request.POST.get("id", ""))
            except (ServiceError, ValidationError):
                raise Http404("No such message.") from None
            messages.success(request, "The message is queued again.")
        elif action == "disconnect":
            workspace = selectors.workspace_for_org(org=self.org)
            if workspace is not None:
                services.slack_workspace_disconnect(workspace=workspace)
                messages.success(request, "Slack is disconnected.")
        elif action == "connect_token":
            form = BotTokenForm(request.POST)
            if form.is_valid():
                try:
                    workspace = services.slack_workspace_connect_with_token(
                        org=self.org, bot_token=form.cleaned_data["bot_token"], installed_by=request.user
                    )
                except ServiceError as exc:
                    add_service_error(form, exc)
                else:
                    messages.success(request, f"Connected to {workspace.team_name or workspace.team_id}.")
                    return redirect("settings_slack", org_slug=self.org.slug)
            return self.render(request, form, status=400, manual_open=True)
        else:
            messages.error(request, "Unknown action.")
        return redirect("settings_slack", org_slug=self.org.slug)

    def render(self, request, token_form, *, status=200, manual_open=False):
        workspace = selectors.workspace_for_org(org=self.org)
        oauth_ready = bool(settings.SLACK_CLIENT_ID and settings.SLACK_CLIENT_SECRET)
        context = self.get_context_data(
            nav="settings",
            settings_tab="slack",
            workspace=workspace,
            oauth_ready=oauth_ready,
            install_url=reverse("slack_install") + "?" + urlencode({"org": self.org.slug}),
            failed=list(selectors.failed_messages(org=self.org)),
            pending=selectors.pending_count(org=self.org),
            request_url=app_setup.request_url(),
            redirect_url=app_setup.redirect_url(),
            manifest=app_setup.manifest(),
            site_url=settings.SITE_URL,
            opened_at=app_setup.site_url_mismatch(request),
            signing_ready=bool(settings.SLACK_SIGNING_SECRET),
            token_form=token_form,
            # Without "Add to Slack", an unconnected org has only the manual path: shown open.
            manual_open=manual_open or (not oauth_ready and workspace is None),
        )
        return render(request, self.template_name, context, status=status)
