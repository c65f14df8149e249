"""The incident page's less-used forms, served when they are opened.

Editing the name and summary, adding a follow-up, scheduling a debrief and
correcting timestamps sit in closed ``<details>`` on the incident page. Built
and rendered with the page they were a fifth of its time, most of it the two
200-member selects (docs/performance.md), for forms most views of the page
never open. The page now carries a link to each; static/js/on_demand_forms.js
fetches the form into its ``<details>`` when it opens (the ``X-Fragment``
header asks for the form alone), and without JavaScript the link opens the
same form on a page of its own. Either way it posts to the action it always
did, which returns to the incident page. A refused post returns there too
(``IncidentActionView``): the form is then on the page already, open, with
the typed text and each error next to its field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from incidentio.incidents.forms import DebriefForm, DetailsForm, FollowUpForm, TimestampsForm
from incidentio.incidents.models import Incident
from incidentio.incidents.views.base import IncidentView
from orgs.models import WRITER_ROLE

FRAGMENT_HEADER = "X-Fragment"


@dataclass(frozen=True)
class OnDemandForm:
    title: str  # the <summary> on the incident page, and the form page's heading
    template: str
    build: Callable[[Incident], object]  # the form, with the incident's current values
    action: str  # the URL name it posts to
    bind: Callable[[object, object], object]  # (org, data): the form bound to posted data (a refused post, shown again)


ON_DEMAND_FORMS = {
    "details": OnDemandForm(
        "Edit details", "incidents/forms/details.html", DetailsForm.of,
        "incident_details", lambda org, data: DetailsForm(data),
    ),
    "follow-up": OnDemandForm(
        "Add a follow-up", "incidents/forms/follow_up.html", lambda incident: FollowUpForm(org=incident.org),
        "follow_up_create", lambda org, data: FollowUpForm(data, org=org),
    ),
    "debrief": OnDemandForm(
        "Schedule a debrief", "incidents/forms/debrief.html", lambda incident: DebriefForm(org=incident.org),
        "debrief_schedule", lambda org, data: DebriefForm(data, org=org),
    ),
    "timestamps": OnDemandForm(
        "Correct timestamps", "incidents/forms/timestamps.html",
        TimestampsForm.of,
        "incident_timestamps", lambda org, data: TimestampsForm(data),
    ),
}


class IncidentFormView(IncidentView):
    """``GET …/incidents/<id>/forms/<name>/``: one of ``ON_DEMAND_FORMS``, alone
    (with ``X-Fragment``) or on its own page. Responders only, as the forms'
    actions are; another org's incident is a 404."""

    http_method_names = ["get", "head"]
    required_role = WRITER_ROLE

    def get(self, request, org_slug, incident_id, form_name):
        spec = ON_DEMAND_FORMS.get(form_name)
        if spec is None:
            raise Http404("No such form.")
        incident = self.get_incident()
        context = self.get_context_data(nav="incidents", incident=incident, form=spec.build(incident),
                                        title=spec.title, form_template=spec.template)
        if request.headers.get(FRAGMENT_HEADER):
            response = render(request, spec.template, context)
        else:
            response = render(request, "incidents/form_page.html", context)
        patch_vary_headers(response, (FRAGMENT_HEADER,))
        return response
