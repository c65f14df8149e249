"""Bases of the views about one incident."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents import selectors
from orgs.models import WRITER_ROLE
from orgs.views.base import OrgView


class IncidentView(OrgView):
    """A page about one incident; viewers read, writing takes a responder.

    ``get_incident`` resolves the id through the org: another org's id is a 404.
    """

    required_role_to_write = WRITER_ROLE

    def get_incident(self):
        return selectors.incident_get(org=self.org, public_id=self.kwargs["incident_id"])

    def http_method_not_allowed(self, request, *args, **kwargs):
        # 405 is for an incident that exists here; another org's id is a 404 whatever the method.
        self.get_incident()
        return super().http_method_not_allowed(request, *args, **kwargs)

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.request.user)


class IncidentActionView(IncidentView):
    """A POST that changes an incident, then returns to its page (PRG).

    Subclasses set ``form_class`` (or none) and implement ``perform``; a
    ServiceError or an invalid form re-renders the incident page with a 400
    and the message, having changed nothing.
    """

    http_method_names = ["post"]
    required_role = WRITER_ROLE
    form_class = None
    success_message = ""

    def get_form(self, incident):
        if self.form_class is None:
            return None
        from incidentio.incidents.forms import OrgForm

        kwargs = {"org": self.org} if issubclass(self.form_class, OrgForm) else {}
        return self.form_class(self.request.POST, **kwargs)

    def perform(self, incident, form):
        raise NotImplementedError

    def success_url(self, incident) -> str:
        return reverse("incident_detail", kwargs={"org_slug": self.org.slug, "incident_id": incident.public_id})

    def post(self, request, org_slug, incident_id, **kwargs):
        incident = self.get_incident()
        form = self.get_form(incident)
        if form is not None and not form.is_valid():
            return self.fail(incident, _form_error_text(form))
        try:
            result = self.perform(incident, form)
        except ServiceError as exc:
            return self.fail(incident, str(exc))
        if self.success_message:
            messages.success(request, self.success_message)
        return redirect(self.success_url(result if result is not None else incident))

    def fail(self, incident, error: str):
        from incidentio.incidents.views.incidents import render_incident_page

        return render_incident_page(self, incident.public_id, status=400, error=error)


def _form_error_text(form) -> str:
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields and form.fields[field].label else field
        prefix = "" if field == "__all__" else f"{str(label).capitalize()}: "
        parts.append(prefix + " ".join(errors))
    return " ".join(parts)
