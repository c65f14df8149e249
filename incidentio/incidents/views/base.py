"""Bases of the views about one incident."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from incidentio.common import form_failures
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.common.form_failures import form_errors
from incidentio.incidents import selectors
from learning import flow_progress
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

    Subclasses set ``form_class`` (or none) and implement ``perform``. A
    ServiceError or an invalid form changes nothing and is refused the same
    way as a success: a redirect (303) to the page the form is on
    (``failure_page``), whose next GET shows each error of ``shown_fields`` next
    to its field with the typed text (``incidentio.common.form_failures``);
    other errors are a flash message. So the address bar never keeps the
    action's POST-only URL and a reload never answers 405.
    """

    http_method_names = ["post"]
    required_role = WRITER_ROLE
    form_class = None
    success_message = ""
    #: The fields the page shows next to their errors; None: every field of ``form_class``.
    shown_fields: tuple[str, ...] | None = None
    #: The id of the page element to scroll to after a refusal (the form's own).
    failure_anchor = ""

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

    def failure_page(self, incident) -> str:
        """The page the form is on, where a refusal shows its errors."""
        return reverse("incident_detail", kwargs={"org_slug": self.org.slug, "incident_id": incident.public_id})

    def post(self, request, org_slug, incident_id, **kwargs):
        incident = self.get_incident()
        form = self.get_form(incident)
        if form is not None and not form.is_valid():
            return self.fail(incident, form_errors(form))
        before = flow_progress.snapshot(incident)
        try:
            result = self.perform(incident, form)
        except ServiceError as exc:
            return self.fail(incident, {exc.field or "__all__": [str(exc)]})
        message = self.success_message
        moved = flow_progress.announcement(before)
        if moved:
            message = f"{message} {moved}" if message else moved
        if message:
            messages.success(request, message)
        return redirect(self.success_url(result if result is not None else incident))

    def fields_shown(self, incident) -> set[str]:
        """The fields the page shows ``incident`` with (an error on another one is a flash message)."""
        if self.shown_fields is not None:
            return set(self.shown_fields)
        return set(self.form_class.base_fields) if self.form_class is not None else set()

    def fail(self, incident, errors: dict[str, list[str]]):
        return form_failures.refuse(
            self.request, to=self.failure_page(incident), errors=errors, shown=self.fields_shown(incident),
            anchor=self.failure_anchor,
        )
