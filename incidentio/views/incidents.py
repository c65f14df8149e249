"""The incidents list, declaring, and the incident page."""

from __future__ import annotations

from html import escape

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from incidentio import selectors
from incidentio.actors import Actor
from incidentio.errors import ServiceError, add_service_error
from incidentio.incident_forms import (
    DeclareForm,
    EditForm,
    IncidentFilterForm,
    MemberRows,
    MergeForm,
    UpdateForm,
)
from incidentio.links import incident_url_prefix
from incidentio.models import INCIDENT_TIMESTAMPS
from incidentio.services import incidents as incident_services
from incidentio.timeline_html import full_datetime, render_timeline
from incidentio.views.base import IncidentView
from learning.selectors import incident_tasks
from learning.services.rules import decide
from orgs.models import WRITER_ROLE
from orgs.views.base import OrgView

PAGE_SIZE = 25


class IncidentListView(OrgView):
    def get(self, request, org_slug):
        form = IncidentFilterForm(request.GET or None, org=self.org)
        if request.GET and not form.is_valid():
            page, status = selectors.IncidentPage([], None), 400
        else:
            filters = form.filters() if request.GET else selectors.IncidentFilters()
            after = form.cleaned_data.get("after") if request.GET else None
            page = selectors.incident_list(org=self.org, filters=filters, after=after, page_size=PAGE_SIZE)
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
            controls=form.controls(),
            errors=form.error_lines(),
            rows=list_rows(page.incidents, url_prefix=incident_url_prefix(self.org)),
            page=page,
            next_query=next_query,
            first_query=first_query.urlencode(),
            is_first_page=not request.GET.get("after"),
        )
        return render(request, "incidents/list.html", context, status=status)


def list_rows(incidents: list[selectors.IncidentListItem], *, url_prefix: str) -> list[SafeString]:
    """The list's ``<tr>``s, rendered in Python.

    Through the template a row cost ~120 µs (``|timesince``, ``|date``, an
    include for the pills, a loop over the roles, every variable resolved
    and escaped by its node); here it is ~40 µs, most of it ``timesince``.
    Every value is escaped with ``html.escape``, which is what Django's
    ``escape`` calls. The pills are the markup of incidents/_badges.html.
    """
    now = timezone.now()  # one "now" for the page, as its rows were read together
    rows = []
    for incident in incidents:
        url = f"{url_prefix}{incident.public_id}/"
        severity = (
            f'\n<span class="sev-pill sev-{incident.severity_rank}">{escape(incident.severity_name)}</span>'
            if incident.severity_name else ""
        )
        roles = "<br>".join(f"{escape(role)}: {escape(person)}" for role, person in incident.roles) or "—"
        rows.append(mark_safe(  # safe: every value is escaped above or here
            f'<tr><td class="ref"><a href="{url}">{incident.reference}</a></td>'
            f'<td><a class="incident-name" href="{url}">{escape(incident.name)}</a></td>'
            f'<td><span class="status-pill cat-{escape(incident.status_category)}">{escape(incident.status_name)}</span>'
            f"{severity}</td>"
            f'<td class="muted small">{roles}</td>'
            f'<td class="muted small" title="{timezone.localtime(incident.reported_at).isoformat()}">'  # as |date:'c'
            f"{escape(timesince(incident.reported_at, now))} ago</td></tr>"
        ))
    return rows


class DeclareView(OrgView):
    required_role = WRITER_ROLE

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


def render_incident_page(view: IncidentView, public_id, *, status: int = 200, error: str | None = None):
    """The incident page; actions that fail re-render it with their error.

    The timeline shows its newest ``TIMELINE_PAGE_EVENTS`` events and says how
    many earlier ones there are; ``?timeline=all`` shows every event.
    """
    org = view.org
    incident, choices = selectors.incident_detail(org=org, public_id=public_id)
    members = MemberRows(choices.members)
    full_timeline = view.request.GET.get("timeline") == "all"
    timeline = selectors.incident_timeline(
        incident=incident, limit=None if full_timeline else selectors.TIMELINE_PAGE_EVENTS,
    )
    assignments = {a.role_id: a for a in incident.role_assignments.all()}
    roles = [(role, assignments.get(role.pk)) for role in choices.roles]
    # (label, the time as shown, or None): |date in the template's loop cost 40 µs a timestamp.
    timestamps = []
    for field, label in INCIDENT_TIMESTAMPS:
        value = getattr(incident, field)
        timestamps.append((label, full_datetime(value) if value else None))
    postmortem = getattr(incident, "postmortem", None)
    context = view.get_context_data(
        close_decision=decide(incident).value if incident.is_live else None,
        learning_groups=incident_tasks(incident=incident),
        nav="incidents",
        incident=incident,
        error=error,
        roles=roles,
        timeline=timeline.events,
        timeline_html=render_timeline(reversed(timeline.events)),
        earlier_event_count=timeline.earlier_count,
        follow_ups=list(incident.follow_ups.all()),
        debriefs=list(incident.debriefs.all()),
        postmortem=postmortem,
        timestamps=timestamps,
        can_act=view.membership.may_write,
        edit_form=EditForm(org=org, choices=(choices.live_statuses, choices.severities), initial={
            "status": str(incident.status.public_id),
            "severity": str(incident.severity.public_id) if incident.severity else "",
        }),
        update_form=UpdateForm(),
        merge_form=MergeForm(),
        member_options=members.options,
    )
    return render(view.request, "incidents/detail.html", context, status=status)


class IncidentDetailView(IncidentView):
    def get(self, request, org_slug, incident_id):
        return render_incident_page(self, incident_id)


def incident_url(incident) -> str:
    return reverse("incident_detail", kwargs={"org_slug": incident.org.slug, "incident_id": incident.public_id})
