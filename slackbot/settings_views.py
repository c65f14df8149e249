"""Settings → Slack (admins): the connection, "Add to Slack", failed messages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from incidentio.common.errors import ServiceError
from orgs.views.base import AdminView
from slackbot import selectors, services


class SlackSettingsView(AdminView):
    template_name = "slackbot/settings.html"

    def get(self, request, org_slug):
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
            events_url=settings.SITE_URL.rstrip("/") + reverse("slack_events"),
            signing_ready=bool(settings.SLACK_SIGNING_SECRET),
        )
        return render(request, self.template_name, context)

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
        return redirect("settings_slack", org_slug=self.org.slug)
