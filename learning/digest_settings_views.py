"""Settings → Digests (admins): when the org's digest of overdue and due-soon
work is sent, and where; and a preview sent to the admin now.

The rules (hours, channel ids, addresses) live in
``learning.services.digests``: a refusal comes back on the form with status
400 and nothing saved.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property

from incidentio.common.errors import ServiceError, add_service_error
from learning.forms import DigestForm
from learning.services import digests
from orgs.views.base import AdminView
from slackbot.selectors import workspace_for_org


class DigestSettingsView(AdminView):
    template_name = "learning/digest_settings.html"

    def get(self, request, org_slug):
        return self.render(self.form())

    def post(self, request, org_slug):
        if request.POST.get("action") == "preview":
            return self.preview()
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render(form, status=400)
        data = form.cleaned_data
        try:
            channel = digests.parse_channel(data["slack_channel"]) if "slack_channel" in form.fields else None
            digests.digest_schedule_update(
                org=self.org, enabled=data["enabled"], frequency=data["frequency"], weekday=data["weekday"],
                hour=data["hour"], slack_channel=channel, emails=[data["emails"]], now=timezone.now(),
            )
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.render(form, status=400)
        messages.success(request, "The digest settings are saved.")
        return redirect("settings_digests", org_slug=self.org.slug)

    def preview(self):
        digest = digests.digest_preview(org=self.org, user=self.request.user, now=timezone.now())
        where = "in a Slack DM (or by e-mail if you have no Slack account)" if self.slack_connected else "by e-mail"
        count = len(digest.items)
        messages.success(self.request, f"A preview ({count} item{'s' if count != 1 else ''}) is on its way to you {where}. "
                                       "The scheduled digest is not affected.")
        return redirect("settings_digests", org_slug=self.org.slug)

    @cached_property
    def schedule(self):
        return digests.digest_schedule_get(org=self.org)

    @cached_property
    def slack_connected(self) -> bool:
        return workspace_for_org(org=self.org) is not None

    def form(self, data=None) -> DigestForm:
        schedule = self.schedule
        initial = {
            "enabled": schedule.enabled, "frequency": schedule.frequency, "weekday": schedule.weekday,
            "hour": schedule.hour, "slack_channel": schedule.slack_channel, "emails": "\n".join(schedule.emails),
        }
        return DigestForm(data, initial=initial, zone_name=self.org.time_zone or "UTC",
                          slack_connected=self.slack_connected)

    def render(self, form: DigestForm, status: int = 200):
        schedule = self.schedule
        zone = digests.org_zone(self.org)
        now = timezone.now()
        next_at = digests.next_slot(schedule, now=now, zone=zone).starts_at.astimezone(zone) if schedule.enabled else None
        context = self.get_context_data(
            nav="settings", settings_tab="digests", form=form, schedule=schedule, zone_name=str(zone),
            local_now=now.astimezone(zone), next_at=next_at,
            last_run_at=schedule.last_run_at.astimezone(zone) if schedule.last_run_at else None,
            horizon=digests.HORIZON_DAYS,
        )
        return render(self.request, self.template_name, context, status=status)
