"""Settings → Follow-up due dates (admin only): per priority, how many
business days after the incident was resolved a follow-up is due, or none
(``learning.services.due_dates``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from incidentio.common.errors import ServiceError
from incidentio.incidents.models import FollowUpPriority
from learning.services.due_dates import MAX_DUE_DAYS, follow_up_due_rules_update, follow_up_rules
from orgs.views.base import AdminView

#: Most urgent first, as people read a policy.
PRIORITIES = list(reversed(FollowUpPriority.choices))


class FollowUpDueForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for priority, label in PRIORITIES:
            self.fields[f"due_days_{priority}"] = forms.IntegerField(
                required=False, min_value=0, max_value=MAX_DUE_DAYS, label=label,
                help_text="Business days after the incident was resolved; empty: no due date.",
            )

    def due_days(self) -> dict[str, int | None]:
        return {priority: self.cleaned_data[f"due_days_{priority}"] for priority, _ in PRIORITIES}


class FollowUpDueSettingsView(AdminView):
    template_name = "learning/settings/follow_up_due.html"

    def get(self, request, org_slug):
        rules = follow_up_rules(self.org.pk)
        return self.render(FollowUpDueForm(initial={f"due_days_{p}": d for p, d in rules.items()}))

    def post(self, request, org_slug):
        form = FollowUpDueForm(request.POST)
        if form.is_valid():
            try:
                follow_up_due_rules_update(org=self.org, due_days=form.due_days())
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Follow-up due dates saved.")
                return redirect("settings_follow_up_due", org_slug=self.org.slug)
        return self.render(form, status=400)

    def render(self, form, status=200):
        context = self.get_context_data(form=form, nav="settings", settings_tab="follow_up_due")
        return render(self.request, self.template_name, context, status=status)
