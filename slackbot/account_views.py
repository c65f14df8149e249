"""``/<org_slug>/preferences/slack-link/<token>/``: confirm linking a Slack user
to the signed-in member (the org's identity; OrgSessionMiddleware sends anyone
not signed in to sign in and back)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from incidentio.common.errors import ServiceError
from orgs.views.base import OrgView
from slackbot import links


class SlackLinkView(OrgView):
    """Linking is personal: any member, viewers included, may link themselves."""

    template_name = "slackbot/link.html"

    def _claim(self, token):
        try:
            claim = links.read_link_token(token)
        except links.LinkTokenInvalid as exc:
            return None, None, str(exc)
        workspace = links.workspace_for_claim(org=self.org, claim=claim)
        if workspace is None:
            raise Http404("No such link in this organization.")
        return claim, workspace, None

    def _render(self, request, status=200, **context):
        response = render(
            request, self.template_name, self.get_context_data(nav="preferences", **context), status=status
        )
        # The token is a credential for 15 minutes: keep it out of Referer headers and caches.
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request, org_slug, token):
        claim, workspace, error = self._claim(token)
        if error:
            return self._render(request, status=400, error=error)
        current = links.slack_link_for(org=self.org, user=request.user)
        return self._render(request, claim=claim, workspace=workspace, current=current)

    def post(self, request, org_slug, token):
        claim, workspace, error = self._claim(token)
        if error:
            return self._render(request, status=400, error=error)
        try:
            links.slack_link_claim(workspace=workspace, user=request.user, slack_user_id=claim.slack_user_id)
        except ServiceError as exc:
            return self._render(request, status=409, error=str(exc), claim=claim, workspace=workspace)
        messages.success(
            request, f"Slack user {claim.slack_user_id} in {workspace.team_name or workspace.team_id} is now linked to you."
        )
        return redirect("preferences", org_slug=self.org.slug)
