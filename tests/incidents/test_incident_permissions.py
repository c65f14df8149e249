"""Who may use which incident URL, for every URL in ``incidentio.incidents.urls``.

The URLs are enumerated from the urlpatterns: a URL added later without an
entry in ``SPECS`` fails ``test_every_incident_url_has_a_spec``, and every
test below runs for every entry.

- viewers read (list, incident page, post-mortem, .ics) and get 403 on
  everything else;
- another org's ids are 404 through one's own org, whatever the method;
- a browser without a session for the org is sent to sign in;
- a method the URL does not take is 405.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents import urls as dashboard_urls
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentStatus,
    Postmortem,
    RoleKind,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services import documents, follow_ups
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db

GET, POST = "GET", "POST"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Spec:
    methods: frozenset[str]
    #: Whether a viewer may GET it.
    viewer_reads: bool = False
    #: Which incident of the world the URL is about: "live" (with a post-mortem,
    #: a debrief and a follow-up), "triage", or "bare" (no post-mortem yet).
    incident: str = "live"
    #: A successful POST's status: a redirect (post/redirect/get), or 200 for an
    #: endpoint that answers a fragment and changes nothing.
    post_status: int = 302


def _post_only(incident="live") -> Spec:
    return Spec(frozenset({POST}), incident=incident)


SPECS: dict[str, Spec] = {
    "incident_list": Spec(frozenset({GET}), viewer_reads=True),
    "incident_declare": Spec(frozenset({GET, POST})),
    "incident_detail": Spec(frozenset({GET}), viewer_reads=True),
    "incident_edit": _post_only(),
    "incident_details": _post_only(),
    "incident_accept": _post_only("triage"),
    "incident_decline": _post_only("triage"),
    "incident_merge": _post_only("triage"),
    "incident_cancel": _post_only(),
    "incident_close": _post_only(),
    "incident_assign_role": _post_only(),
    "incident_post_update": _post_only(),
    "incident_timestamps": _post_only(),
    "incident_form": Spec(frozenset({GET})),  # the forms of the actions: responders only
    "postmortem": Spec(frozenset({GET, POST}), viewer_reads=True),
    "postmortem_preview": Spec(frozenset({POST}), post_status=200),  # the editor's live preview
    "postmortem_create": _post_only("bare"),
    "postmortem_status": _post_only(),
    "postmortem_share": _post_only(),
    "debrief_schedule": _post_only(),
    "debrief_invite": Spec(frozenset({GET}), viewer_reads=True),
    "follow_up_create": _post_only(),
    "follow_up_edit": _post_only(),
    "follow_up_complete": _post_only(),
    "follow_up_due": _post_only(),
    "follow_up_not_doing": _post_only(),
}

PATTERNS: dict[str, URLPattern] = {p.name: p for p in dashboard_urls.urlpatterns}
NAMES = sorted(PATTERNS)
WITH_INCIDENT = [name for name in NAMES if "incident_id" in PATTERNS[name].pattern.converters]
READS = [name for name in NAMES if SPECS.get(name) and SPECS[name].viewer_reads]
NOT_READS = [name for name in NAMES if name not in READS]


def test_every_incident_url_has_a_spec():
    assert len(PATTERNS) == len(dashboard_urls.urlpatterns), "every incident URL needs a name"
    assert set(NAMES) == set(SPECS), "add the new URL to SPECS (and to PAYLOADS if it takes POST)"


def test_the_cast_of_urls_is_not_empty():
    # Guards the parametrisation below against a refactor that empties it.
    assert READS and NOT_READS and len(WITH_INCIDENT) == len(NAMES) - 2


# --- The world ------------------------------------------------------------------------


@dataclass
class World:
    org: object
    live: Incident
    triage: Incident
    bare: Incident
    follow_up: FollowUp
    debrief: Debrief


def _populate(org, user) -> World:
    actor = Actor.for_user(user)
    live = incident_declare(org=org, actor=actor, name="Checkout is down")
    triage = incident_declare(org=org, actor=actor, name="Something odd", triage=True)
    bare = incident_declare(org=org, actor=actor, name="No post-mortem yet")
    documents.postmortem_create(incident=live, actor=actor)
    debrief = documents.debrief_schedule(
        incident=live, actor=actor, scheduled_at=timezone.now() + timedelta(days=2)
    )
    follow_up = follow_ups.follow_up_create(incident=live, actor=actor, title="Add a canary")
    return World(org=org, live=live, triage=triage, bare=bare, follow_up=follow_up, debrief=debrief)


@pytest.fixture
def world(acme, owner) -> World:
    return _populate(acme, owner)


def url_for(name: str, world: World, org_slug: str | None = None) -> str:
    """The URL ``name`` about ``world``'s objects, optionally under another org's slug."""
    kwargs = {"org_slug": org_slug or world.org.slug}
    converters = PATTERNS[name].pattern.converters
    if "incident_id" in converters:
        kwargs["incident_id"] = getattr(world, SPECS[name].incident).public_id
    if "follow_up_id" in converters:
        kwargs["follow_up_id"] = world.follow_up.public_id
    if "debrief_id" in converters:
        kwargs["debrief_id"] = world.debrief.public_id
    if "form_name" in converters:
        kwargs["form_name"] = "follow-up"
    unknown = set(converters) - {"org_slug", "incident_id", "follow_up_id", "debrief_id", "form_name"}
    assert not unknown, f"teach url_for about {unknown}"
    return reverse(name, kwargs=kwargs)


def payload_for(name: str, world: World, member) -> dict:
    """A POST body the URL accepts, so a missing permission check would show as a change."""
    org = world.org
    status = IncidentStatus.objects.get(org=org, name="Fixing")
    severity = Severity.objects.get(org=org, name="Critical")
    lead = IncidentRole.objects.get(org=org, kind=RoleKind.LEAD)
    payloads = {
        "incident_declare": {"name": "Another outage"},
        "incident_edit": {"status": str(status.public_id), "severity": str(severity.public_id)},
        "incident_details": {"name": "Renamed", "summary": "New summary"},
        "incident_decline": {"reason": "Not an incident"},
        "incident_merge": {"into": world.live.reference},
        "incident_cancel": {"reason": "By mistake"},
        "incident_close": {"learning_flow": "opt_out", "opt_out_reason": "A short blip"},
        "incident_assign_role": {"role": str(lead.public_id), "user": member.pk},
        "incident_post_update": {"message": "An update"},
        "incident_timestamps": {"reported_at": "2024-05-01T10:00"},
        "postmortem": {"content": "Rewritten", "action": "save"},
        "postmortem_preview": {"content": "Rewritten"},
        "postmortem_status": {"status": "completed"},
        "debrief_schedule": {"scheduled_at": "2031-03-04T15:00", "duration_minutes": "30"},
        "follow_up_create": {"title": "Another follow-up", "priority": "high"},
        "follow_up_edit": {"title": "Edited follow-up", "priority": "urgent"},
        "follow_up_not_doing": {"reason": "Too big"},
        "follow_up_due": {"due_date": "2031-03-04"},
    }
    return payloads.get(name, {})


def snapshot(org) -> tuple:
    """Everything a write could change in ``org``."""
    incidents = Incident.objects.filter(org=org)
    return (
        sorted(
            incidents.values_list(
                "number", "name", "summary", "status_id", "severity_id", "reported_at"
            )
        ),
        TimelineEvent.objects.filter(incident__org=org).count(),
        sorted(
            FollowUp.objects.filter(incident__org=org).values_list("title", "status", "priority", "due_at")
        ),
        Debrief.objects.filter(incident__org=org).count(),
        sorted(
            Postmortem.objects.filter(incident__org=org).values_list(
                "content", "status", "shared_at"
            )
        ),
        sorted(
            (a.incident_id, a.role_id, a.user_id)
            for i in incidents.prefetch_related("role_assignments")
            for a in i.role_assignments.all()
        ),
    )


def _request(client, method: str, url: str, data: dict | None = None):
    if method == "GET":
        return client.get(url)
    if method == "POST":
        return client.post(url, data or {})
    return client.generic(method, url)


# --- Responders: the happy path of every method a URL takes ---------------------------


@pytest.mark.parametrize(
    "name, method", [(n, m) for n in NAMES for m in sorted(SPECS.get(n, Spec(frozenset())).methods)]
)
def test_responder_can_use_every_method_a_url_takes(name, method, world, responder, signed_in):
    client = signed_in(responder, world.org)
    response = _request(client, method, url_for(name, world), payload_for(name, world, responder))
    if method == GET:
        assert response.status_code == 200
    else:
        assert response.status_code == SPECS[name].post_status, response.content.decode()[:3000]


# --- Viewers --------------------------------------------------------------------------


@pytest.mark.parametrize("name", READS)
def test_viewer_can_read(name, world, viewer, signed_in):
    client = signed_in(viewer, world.org)
    assert client.get(url_for(name, world)).status_code == 200


def test_viewer_reads_pages_without_the_write_forms(world, viewer, signed_in):
    client = signed_in(viewer, world.org)
    detail = client.get(url_for("incident_detail", world)).content.decode()
    assert url_for("incident_close", world) not in detail
    assert url_for("incident_post_update", world) not in detail
    assert "Checkout is down" in detail
    listing = client.get(url_for("incident_list", world)).content.decode()
    assert url_for("incident_declare", world) not in listing
    postmortem = client.get(url_for("postmortem", world)).content.decode()
    assert url_for("postmortem_share", world) not in postmortem and "<textarea" not in postmortem


@pytest.mark.parametrize("name", NOT_READS)
def test_viewer_cannot_get_anything_else(name, world, viewer, signed_in):
    client = signed_in(viewer, world.org)
    assert client.get(url_for(name, world)).status_code == 403


def test_viewer_cannot_open_the_declare_page(world, viewer, signed_in):
    client = signed_in(viewer, world.org)
    assert client.get(url_for("incident_declare", world)).status_code == 403


@pytest.mark.parametrize("name", NAMES)
def test_viewer_post_is_refused_and_changes_nothing(name, world, viewer, signed_in):
    client = signed_in(viewer, world.org)
    before = snapshot(world.org)
    response = client.post(url_for(name, world), payload_for(name, world, viewer))
    if POST in SPECS[name].methods:
        assert response.status_code == 403
    else:
        # A URL that takes no POST refuses everyone; the role check may come first.
        assert response.status_code in (403, 405)
    assert snapshot(world.org) == before


# --- Wrong methods --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, method",
    [
        (n, m)
        for n in NAMES
        for m in ALL_METHODS
        if m not in SPECS.get(n, Spec(frozenset())).methods
    ],
)
def test_method_a_url_does_not_take_is_405(name, method, world, responder, signed_in):
    client = signed_in(responder, world.org)
    before = snapshot(world.org)
    response = _request(client, method, url_for(name, world), payload_for(name, world, responder))
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) >= set(SPECS[name].methods)
    assert snapshot(world.org) == before


# --- Other organizations --------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize("name", NAMES)
def test_outsider_without_an_acme_session_is_sent_to_sign_in(
    name, method, world, outsider, globex, signed_in
):
    client = signed_in(outsider, globex)
    before = snapshot(world.org)
    url = url_for(name, world)
    response = _request(client, method, url, payload_for(name, world, outsider))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert snapshot(world.org) == before
    # The outsider's own org still works in the same browser.
    assert client.get("/globex/incidents/").status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize("name", WITH_INCIDENT)
def test_acme_ids_through_the_outsiders_own_org_are_404(
    name, method, world, outsider, globex, signed_in
):
    _populate(globex, outsider)  # globex has incidents of its own, with the same references
    client = signed_in(outsider, globex)
    before = snapshot(world.org)
    url = url_for(name, world, org_slug="globex")
    assert url.startswith("/globex/incidents/")
    response = _request(client, method, url, payload_for(name, world, outsider))
    assert response.status_code == 404, response.status_code
    assert snapshot(world.org) == before


NESTED = [
    name
    for name in NAMES
    if {"follow_up_id", "debrief_id"} & set(PATTERNS[name].pattern.converters)
]


@pytest.mark.parametrize("name", NESTED)
def test_acme_follow_ups_and_debriefs_under_a_globex_incident_are_404(
    name, world, outsider, globex, signed_in
):
    theirs = _populate(globex, outsider)
    client = signed_in(outsider, globex)
    before = snapshot(world.org)
    url = url_for(name, theirs, org_slug="globex")
    url = url.replace(str(theirs.follow_up.public_id), str(world.follow_up.public_id))
    url = url.replace(str(theirs.debrief.public_id), str(world.debrief.public_id))
    method = GET if GET in SPECS[name].methods else POST
    response = _request(client, method, url, payload_for(name, theirs, outsider))
    assert response.status_code == 404
    assert snapshot(world.org) == before


def test_a_malformed_incident_id_is_404(world, responder, signed_in):
    client = signed_in(responder, world.org)
    assert client.get("/acme/incidents/12/").status_code == 404
    assert client.get("/acme/incidents/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- Anonymous ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", NAMES)
def test_anonymous_is_sent_to_sign_in(name, method, world, client):
    before = snapshot(world.org)
    url = url_for(name, world)
    response = _request(client, method, url, payload_for(name, world, world.live.created_by))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert snapshot(world.org) == before
