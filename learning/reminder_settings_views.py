"""Settings → Reminders: the org's ``ReminderPolicy`` (admins only).

When the owners of work with a due date are reminded, and when overdue work is
escalated (``learning.services.reminders``). A refused change comes back with
status 400 and the message, having changed nothing.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from incidentio.common.errors import ServiceError, add_service_error
from incidentio.incidents.models import IncidentRole
from learning.services.reminders import reminder_policy_get, reminder_policy_update
from orgs.views.base import AdminView


class ReminderPolicyForm(forms.Form):
    remind_before_hours = forms.IntegerField(min_value=0, max_value=24 * 30, label="First reminder, hours before "
                                             "the due date", help_text="0: no reminder before the due date.")
    repeat_every_days = forms.IntegerField(min_value=0, max_value=365, label="Then remind again every (days)",
                                           help_text="0: one reminder at the due date, none after.")
    escalate_after_days = forms.IntegerField(min_value=0, max_value=365, required=False,
                                             label="Escalate after this many days overdue",
                                             help_text="Empty: never escalate.")
    escalate_to_role = forms.ChoiceField(required=False, label="Escalate to the holder of")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles = {str(r.public_id): r for r in IncidentRole.objects.filter(org=org).order_by("rank", "pk")}
        self.fields["escalate_to_role"].choices = [("", "The incident lead"),
                                                   *((key, role.name) for key, role in self.roles.items())]

    def clean_escalate_to_role(self):
        value = self.cleaned_data["escalate_to_role"]
        return self.roles[value] if value else None


class ReminderSettingsView(AdminView):
    def get(self, request, org_slug):
        policy = reminder_policy_get(org=self.org)
        return self.render(ReminderPolicyForm(org=self.org, initial={
            "remind_before_hours": policy.remind_before_hours, "repeat_every_days": policy.repeat_every_days,
            "escalate_after_days": policy.escalate_after_days,
            "escalate_to_role": str(policy.escalate_to_role.public_id) if policy.escalate_to_role else "",
        }), policy)

    def post(self, request, org_slug):
        form = ReminderPolicyForm(request.POST, org=self.org)
        if form.is_valid():
            try:
                reminder_policy_update(org=self.org, **form.cleaned_data)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, "Reminder settings saved.")
                return redirect(reverse("settings_reminders", kwargs={"org_slug": self.org.slug}))
        return self.render(form, reminder_policy_get(org=self.org), status=400)

    def render(self, form, policy, status: int = 200):
        context = self.get_context_data(settings_tab="reminders", form=form, policy=policy)
        return render(self.request, "learning/reminder_settings.html", context, status=status)
