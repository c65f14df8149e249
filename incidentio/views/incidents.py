"""The incidents list, declaring, and the incident page."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import reverse

from incidentio import selectors
from incidentio.actors import Actor
from incidentio.errors import ServiceError, add_service_error
from incidentio.incident_forms import (
    AssignRoleForm,
    DebriefForm,
    DeclareForm,
    DetailsForm,
    EditForm,
    FollowUpForm,
    IncidentFilterForm,
    MergeForm,
    ReasonForm,
    TimestampsForm,
    UpdateForm,
)
from incidentio.models import INCIDENT_TIMESTAMPS, EventKind, StatusCategory
from incidentio.services import incidents as incident_services
from incidentio.views.base import IncidentView
from learning.selectors import incident_tasks
from learning.services.rules import decide
from orgs.models import Role
from orgs.views.base import OrgView

PAGE_SIZE = 25


class IncidentListView(OrgView):
    def get(self, request, org_slug):
        form = IncidentFilterForm(request.GET or None, org=self.org)
        if request.GET and not form.is_valid():
            page, status = selectors.IncidentPage([], None), 400
        else:
            data = form.cleaned_data if request.GET else {}
            assignee = data.get("assignee")
            filters = selectors.IncidentFilters(
                category=data.get("category") or [],
                status=data.get("status") or [],
                severity=data.get("severity") or [],
                learning_flow=data.get("learning_flow") or [],
                assignee_id=assignee.pk if assignee else None,
                query=(data.get("q") or "").strip(),
            )
            page = selectors.incident_list(org=self.org, filters=filters, after=data.get("after"), page_size=PAGE_SIZE)
            status = 200
        next_query = None
        if page.next_after is not None:
            query = request.GET.copy()
            query["after"] = page.next_after
            next_query = query.urlencode()
        first_query = request.GET.copy()
        first_query.pop("after", None)
        context = self.get_context_data(
            nav="incidents",
            form=form,
            page=page,
            next_query=next_query,
            first_query=first_query.urlencode(),
            is_first_page=not request.GET.get("after"),
            categories=StatusCategory.choices,
        )
        return render(request, "incidents/list.html", context, status=status)


class DeclareView(OrgView):
    required_role = Role.RESPONDER

    def get(self, request, org_slug):
        return self.render(request, DeclareForm(org=self.org, initial={"lead": request.user.pk}))

    def post(self, request, org_slug):
        form = DeclareForm(request.POST, org=self.org)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = incident_services.incident_declare(
                    org=self.org,
                    actor=Actor.for_user(request.user),
                    name=data["name"],
                    summary=data["summary"],
                    severity=data["severity"],
                    lead=data["lead"],
                    triage=data["triage"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return redirect("incident_detail", org_slug=self.org.slug, incident_id=incident.public_id)
        return self.render(request, form, status=400)

    def render(self, request, form, status=200):
        return render(request, "incidents/declare.html", self.get_context_data(form=form, nav="incidents"), status=status)


def render_incident_page(view: IncidentView, incident, *, status: int = 200, error: str | None = None):
    """The incident page; actions that fail re-render it with their error."""
    org = view.org
    incident = selectors.incident_detail(org=org, public_id=incident.public_id)
    assignments = {a.role_id: a for a in incident.role_assignments.all()}
    roles = [(role, assignments.get(role.pk)) for role in selectors.role_list(org=org)]
    timestamps = [(label, field, getattr(incident, field)) for field, label in INCIDENT_TIMESTAMPS]
    postmortem = getattr(incident, "postmortem", None)
    context = view.get_context_data(
        close_decision=decide(incident).value if incident.is_live else None,
        learning_groups=incident_tasks(incident=incident),
        nav="incidents",
        incident=incident,
        error=error,
        roles=roles,
        timeline=list(incident.timeline.all()),
        follow_ups=list(incident.follow_ups.all()),
        debriefs=list(incident.debriefs.all()),
        postmortem=postmortem,
        timestamps=timestamps,
        can_act=view.membership.can_respond,
        event_kinds=EventKind,
        edit_form=EditForm(org=org, initial={
            "status": str(incident.status.public_id),
            "severity": str(incident.severity.public_id) if incident.severity else "",
        }),
        details_form=DetailsForm(initial={"name": incident.name, "summary": incident.summary}),
        update_form=UpdateForm(),
        reason_form=ReasonForm(),
        merge_form=MergeForm(),
        assign_form=AssignRoleForm(org=org),
        timestamps_form=TimestampsForm(initial={field: getattr(incident, field) for field, _ in INCIDENT_TIMESTAMPS}),
        follow_up_form=FollowUpForm(org=org),
        debrief_form=DebriefForm(org=org),
    )
    return render(view.request, "incidents/detail.html", context, status=status)


class IncidentDetailView(IncidentView):
    def get(self, request, org_slug, incident_id):
        return render_incident_page(self, self.get_incident())


def incident_url(incident) -> str:
    return reverse("incident_detail", kwargs={"org_slug": incident.org.slug, "incident_id": incident.public_id})
