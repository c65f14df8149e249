"""The incidents list, declaring, and the incident page."""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from zoneinfo import ZoneInfo

from django.core.cache import cache as fragment_cache
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone

from incidentio.common import form_failures, live
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError, add_service_error
from incidentio.common.links import incident_url_prefix
from incidentio.incidents import selectors
from incidentio.incidents.forms import (
    DeclareForm,
    IncidentFilterForm,
    MergeForm,
    UpdateForm,
    member_options,
)
from incidentio.incidents.models import INCIDENT_TIMESTAMPS, Incident
from incidentio.incidents.services import incidents as incident_services
from incidentio.incidents.views.base import IncidentView
from learning.selectors import incident_page_version, incident_progress
from learning.services.rules import close_prompt
from orgs.models import WRITER_ROLE
from orgs.views.base import OrgView

logger = logging.getLogger("incidentio")

PAGE_SIZE = 25
#: How long a rendered timeline stays cached. Its key changes with every event
#: (``Incident.timeline_version``), so this only bounds what the key cannot
#: see (a person renamed since, an event label changed by a deploy) and the
#: memory superseded versions hold.
TIMELINE_CACHE_SECONDS = 60 * 60
TIMELINE_TEMPLATE = "incidents/_timeline.html"


class IncidentListView(OrgView):
    def get(self, request, org_slug):
        form = IncidentFilterForm(request.GET or None, org=self.org)
        chips, version = [], None
        if request.GET and not form.is_valid():
            page, status = selectors.IncidentPage([], None), 400
        else:
            filters = form.filters() if request.GET else selectors.IncidentFilters()
            after = form.cleaned_data.get("after") if request.GET else None
            # Before the page's read: a change made in between is then newer
            # than this version, and the next poll fetches it again.
            version = live.page_version(request, selectors.incident_list_version(
                org=self.org, filters=filters, after=after, page_size=PAGE_SIZE))
            if unchanged := live.not_modified(request, version):
                return unchanged
            page = selectors.incident_list(org=self.org, filters=filters, after=after, page_size=PAGE_SIZE)
            status = 200
            chips = form.chips(request.GET) if request.GET else []
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
            errors=form.error_lines(),
            chips=chips,
            incidents=page.incidents,
            shows_types=form.shows_types,
            url_prefix=incident_url_prefix(self.org),
            page=page,
            next_query=next_query,
            first_query=first_query.urlencode(),
            is_first_page=not request.GET.get("after"),
            # Asked only of an empty, unfiltered list: a new org gets a welcome; a
            # list emptied by its filters says so and offers to clear them.
            first_incident=not page.incidents and not request.GET and not selectors.incident_any(org=self.org),
            filtered=bool(request.GET),
            live_version=version,
        )
        return live.respond(request, render(request, "incidents/list.html", context, status=status), version)


class DeclareView(OrgView):
    required_role = WRITER_ROLE

    def get(self, request, org_slug):
        return self.render(request, DeclareForm(org=self.org, initial={"lead": request.user.pk}))

    def post(self, request, org_slug):
        form = DeclareForm(request.POST, org=self.org)
        if form.is_valid():
            try:
                incident = incident_services.incident_declare(
                    org=self.org, actor=Actor.for_user(request.user), **form.cleaned_data
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return redirect("incident_detail", org_slug=self.org.slug, incident_id=incident.public_id)
        return self.render(request, form, status=400)

    def render(self, request, form, status=200):
        return render(request, "incidents/declare.html", self.get_context_data(form=form, nav="incidents"), status=status)


def render_incident_page(view: IncidentView, public_id, *, live_version: str):
    """The incident page at ``live_version`` (which its script polls with);
    after a refused action (``form_failures``), with that form's errors next
    to its fields."""
    org = view.org
    # A live poll renders the page too, but the refused form's errors are for the page the viewer opens next.
    failure = None if live.is_poll(view.request) else form_failures.take(view.request)
    read = selectors.incident_detail(org=org, public_id=public_id)
    incident, choices = read.incident, read.choices
    assignments = {a.role_id: a for a in read.role_assignments}
    roles = [(role, assignments.get(role.pk)) for role in choices.roles]
    postmortem = getattr(incident, "postmortem", None)
    prompt = close_prompt(incident) if incident.is_live else None
    context = view.get_context_data(
        close_prompt=prompt,
        close_decision=prompt.decision.value if prompt else None,
        learning_groups=incident_progress(incident=incident),
        nav="incidents",
        incident=incident,
        failure=failure,
        roles=roles,
        timeline=timeline_fragment(incident, full=view.request.GET.get("timeline") == "all"),
        follow_ups=read.follow_ups,
        debriefs=read.debriefs,
        postmortem=postmortem,
        timestamps=[(label, getattr(incident, field)) for field, label in INCIDENT_TIMESTAMPS],
        can_act=view.membership.may_write,
        status_options=choices.live_statuses,
        severity_options=choices.severities,
        type_options=choices.incident_types,
        update_form=_form_after(failure, "incident_post_update", org, incident, UpdateForm),
        merge_form=_form_after(failure, "incident_merge", org, incident, MergeForm),
        members=member_options(choices.members),
        live_version=live_version,
    )
    response = render(view.request, "incidents/detail.html", context)
    if failure is not None and failure.unplaced_errors():
        # The refused form is not on the page any more (rendering tells which
        # errors found their field): its errors go at the top rather than nowhere.
        context["unplaced_errors"] = failure.unplaced_errors()
        response = render(view.request, "incidents/detail.html", context)
    return response


def _form_after(failure, url_name: str, org, incident: Incident, form_class):
    """The page's form of action ``url_name``: with the refused post's text and
    errors when it was that action's, else empty."""
    action = reverse(url_name, kwargs={"org_slug": org.slug, "incident_id": incident.public_id})
    if failure is not None and failure.action == action:
        return failure.bind(form_class(failure.query_dict()))
    return form_class()


def timeline_fragment(incident: Incident, *, full: bool) -> str:
    """The incident's timeline as ``incidents/_timeline.html`` renders it: its
    newest ``TIMELINE_PAGE_EVENTS`` events and how many earlier ones there
    are, or with ``full`` every event.

    Cached in the Django cache under the incident's ``timeline_version``, which
    every event write moves on: a new event is a new key, so nothing is ever
    invalidated, and a page whose key is cached runs neither the timeline's
    query nor its template. ``incident`` must have been read before the events
    (it is, by ``incident_detail``): a version read earlier than the events
    can only label a newer timeline, never an older one. With the cache
    unavailable the timeline is rendered uncached, as the API's rate limit
    counts nothing then, rather than failing the page.
    """
    key = ":".join((
        "incident-timeline", str(incident.public_id), str(incident.timeline_version), "all" if full else "newest",
        timezone.get_current_timezone_name(), _timeline_template_digest(),
    ))
    try:
        html = fragment_cache.get(key)
    except Exception:
        logger.warning("Timeline of %s rendered uncached: the cache is unavailable", incident.public_id, exc_info=True)
        return _render_timeline(incident, full=full)
    if html is None:
        html = _render_timeline(incident, full=full)
        try:
            fragment_cache.set(key, html, TIMELINE_CACHE_SECONDS)
        except Exception:
            logger.warning("Timeline of %s not cached: the cache is unavailable", incident.public_id, exc_info=True)
    return html


def _render_timeline(incident: Incident, *, full: bool) -> str:
    timeline = selectors.incident_timeline(incident=incident, limit=None if full else selectors.TIMELINE_PAGE_EVENTS)
    return render_to_string(TIMELINE_TEMPLATE, {
        "events": timeline.events[::-1],  # newest first
        "earlier_count": timeline.earlier_count,
    })


@cache
def _timeline_template_digest() -> str:
    """Part of the key: a deploy that changes the timeline's markup starts on new keys."""
    return hashlib.sha256(get_template(TIMELINE_TEMPLATE).template.source.encode()).hexdigest()[:12]


class IncidentDetailView(IncidentView):
    def get(self, request, org_slug, incident_id):
        # Read before the page (see the list's); another org's incident is a 404 here.
        version = live.page_version(
            request, incident_page_version(org=self.org, public_id=incident_id),
            # Due dates read "Overdue by 2 days" counting the org's calendar days.
            timezone.now().astimezone(ZoneInfo(self.org.time_zone)).date(),
        )
        if unchanged := live.not_modified(request, version):
            return unchanged
        return live.respond(request, render_incident_page(self, incident_id, live_version=version), version)


def incident_url(incident) -> str:
    return reverse("incident_detail", kwargs={"org_slug": incident.org.slug, "incident_id": incident.public_id})
