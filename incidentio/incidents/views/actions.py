"""POST actions on the incident page: one small view per service call."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404

from incidentio.common.errors import ServiceError
from incidentio.common.text import full_stop
from incidentio.incidents import selectors
from incidentio.incidents.forms import (
    AssignRoleForm,
    CloseForm,
    DetailsForm,
    EditForm,
    MergeForm,
    ReasonForm,
    TimestampsForm,
    UpdateForm,
)
from incidentio.incidents.models import INCIDENT_TIMESTAMPS, LearningFlowState
from incidentio.incidents.services import incidents as svc
from incidentio.incidents.views.base import IncidentActionView
from learning.services.flow import incident_close


class EditStatusSeverityView(IncidentActionView):
    form_class = EditForm
    failure_anchor = "edit"
    success_message = "Incident updated."

    def perform(self, incident, form):
        changes = {"severity": form.cleaned_data["severity"]}
        if form.cleaned_data["incident_type"] is not None:
            changes["incident_type"] = form.cleaned_data["incident_type"]
        status = form.cleaned_data["status"]
        if status is not None and status != incident.status:
            changes["status"] = status  # the service refuses it for a non-live incident
        return svc.incident_edit(incident=incident, actor=self.actor, **changes)


class EditDetailsView(IncidentActionView):
    form_class = DetailsForm
    failure_anchor = "form-details"
    success_message = "Details saved."

    def perform(self, incident, form):
        return svc.incident_edit(incident=incident, actor=self.actor, **form.cleaned_data)


class AcceptView(IncidentActionView):
    success_message = "Incident accepted."

    def perform(self, incident, form):
        return svc.incident_accept(incident=incident, actor=self.actor)


class DeclineView(IncidentActionView):
    form_class = ReasonForm
    failure_anchor = "decline"
    success_message = "Incident declined."

    def perform(self, incident, form):
        return svc.incident_decline(incident=incident, actor=self.actor, reason=form.cleaned_data["reason"])


class CancelView(IncidentActionView):
    form_class = ReasonForm
    failure_anchor = "cancel"
    success_message = "Incident canceled."

    def perform(self, incident, form):
        return svc.incident_cancel(incident=incident, actor=self.actor, reason=form.cleaned_data["reason"])


class MergeView(IncidentActionView):
    form_class = MergeForm
    failure_anchor = "merge"
    success_message = "Incident merged."

    def perform(self, incident, form):
        try:
            into = selectors.incident_get_by_reference(org=self.org, reference=form.cleaned_data["into"])
        except Http404:
            raise ServiceError(
                f"No incident {form.cleaned_data['into']} in {full_stop(self.org.name)}", field="into"
            ) from None
        return svc.incident_merge(incident=incident, actor=self.actor, into=into)


class CloseView(IncidentActionView):
    form_class = CloseForm
    # The choice itself is a button: an error about it (not offered here) is a flash message.
    shown_fields = ("opt_out_reason",)
    failure_anchor = "close"

    def perform(self, incident, form):
        incident = incident_close(
            incident=incident,
            actor=self.actor,
            learning_flow=form.cleaned_data["learning_flow"] or None,
            opt_out_reason=form.cleaned_data["opt_out_reason"],
        )
        if incident.learning_flow == LearningFlowState.RUNNING:
            messages.success(self.request, f"Incident closed. The learning flow starts with {incident.status.name}.")
        else:
            messages.success(self.request, "Incident closed.")
        return incident


class AssignRoleView(IncidentActionView):
    form_class = AssignRoleForm
    shown_fields = ("user",)  # the role is the row's hidden input
    failure_anchor = "roles"
    success_message = "Role updated."

    def perform(self, incident, form):
        return svc.incident_assign_role(
            incident=incident, actor=self.actor, role=form.cleaned_data["role"], user=form.cleaned_data["user"]
        )


class PostUpdateView(IncidentActionView):
    form_class = UpdateForm
    failure_anchor = "update"
    success_message = "Update posted."

    def perform(self, incident, form):
        return svc.incident_post_update(incident=incident, actor=self.actor, message=form.cleaned_data["message"])


class TimestampsView(IncidentActionView):
    form_class = TimestampsForm
    shown_fields = tuple(field for field, _ in INCIDENT_TIMESTAMPS)  # the form adds them in __init__
    failure_anchor = "form-timestamps"
    success_message = "Timestamps saved."

    def get_form(self, incident):
        return TimestampsForm.of(incident, self.request.POST)

    def perform(self, incident, form):
        values = {field: form.cleaned_data.get(field) for field, _ in INCIDENT_TIMESTAMPS}
        return svc.incident_update_timestamps(incident=incident, actor=self.actor, values=values)
