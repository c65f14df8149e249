"""Tenant isolation matrix for the dashboard, enumerated from the URLconf (issue 8).

Every URL pattern whose route holds ``<org_slug>`` is found by walking
``django.urls.get_resolver()``. Acting as an admin of acme (signed in through
the real sign-in page), each pattern that names objects is called under
``/acme/…`` with globex's real object ids, by GET and by POST: always a 404 (for a method the view does not
serve, a 404 or 405 exactly as a missing id gets),
and globex's objects are unchanged afterwards. Where a route names a parent
and a child (``incident_id`` + ``task_id``), acme's own parent with globex's
child is a 404 too: children are fetched through their parent's org.

A route whose URL names an object kind this file cannot make fails
``test_every_object_kwarg_has_a_maker`` (and its own matrix case), so a route
added later without coverage breaks the build until ``ID_MAKERS`` learns it.

Every list page under ``/acme/`` shows none of globex's names.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import Debrief, FollowUp, Incident, Postmortem, TimelineEvent
from incidentio.incidents.services.documents import debrief_schedule, postmortem_create
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask
from learning.services.flow import incident_close
from orgs.models import ApiKey, Holiday, Invitation, Membership, Role
from orgs.services import api_key_create, invitation_create
from slackbot.links import make_link_token
from slackbot.models import SlackUserLink, SlackWorkspace
from tests.factories import MembershipFactory, UserFactory
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


_CALLBACKS: dict = {}


def _walk(resolver: URLResolver, prefix: str = "") -> list[tuple[str, str | None]]:
    """(full route, url name) of every pattern under ``resolver``, includes flattened."""
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_walk(pattern, route))
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.name))
            _CALLBACKS[route] = pattern.callback
    return found


ORG_ROUTES = sorted({(route, name) for route, name in _walk(get_resolver()) if "<slug:org_slug>" in route})


def _served(route: str) -> set[str]:
    view_class = getattr(_CALLBACKS[route], "view_class", None)
    if view_class is None:
        return {"get", "post"}
    return {m for m in ("get", "post") if m in view_class.http_method_names and hasattr(view_class, m)}


def _kwargs(route: str) -> list[str]:
    return [name for _converter, name in _PARAM.findall(route) if name != "org_slug"]


#: URL kwargs that name a fixed part of the dashboard, the same words in every org (not an object): a route
#: naming nothing else (an Insights chart's CSV) is a page like a list, and is checked like one.
FIXED_KWARGS = {"panel": "response", "chart_id": "declared_per_week"}
OBJECT_ROUTES = [(route, name) for route, name in ORG_ROUTES if set(_kwargs(route)) - set(FIXED_KWARGS)]
LIST_ROUTES = [(route, name) for route, name in ORG_ROUTES if not set(_kwargs(route)) - set(FIXED_KWARGS)]

def _public_id(key: str):
    return lambda world: str(world[key].public_id)


#: URL kwarg → how to get that object's URL value from ``_world()``'s result.
ID_MAKERS = {
    "incident_id": _public_id("incident"),
    "task_id": _public_id("task"),
    "follow_up_id": _public_id("follow_up"),
    "debrief_id": _public_id("debrief"),
    "member_id": _public_id("membership"),
    "invitation_id": _public_id("invitation"),
    "key_id": _public_id("api_key"),
    "endpoint_id": _public_id("endpoint"),
    # Not an object: which of the incident page's on-demand forms.
    "form_name": lambda world: "follow-up",
    # A holiday is named by its date, unique in its org.
    "day": lambda world: world["holiday"].date.isoformat(),
    # A signed Slack-link token issued for the org's own workspace.
    "token": lambda world: world["slack_link_token"],
}

#: Globex's names: none may appear on any acme page.
SECRET = "zq7globex"


def _world(org, owner_user, *, tag: str) -> dict:
    """One object of each kind the dashboard can name, in ``org``, made through the services."""
    actor = Actor.for_user(owner_user)
    owner_membership = Membership.objects.get(org=org, user=owner_user)
    incident = incident_declare(org=org, actor=actor, name=f"{tag} incident", lead=owner_user)
    incident_close(incident=incident, actor=actor, learning_flow="run")
    task = LearningTask.objects.filter(incident=incident).order_by("pk").first()
    assert task is not None, "the default learning flow creates tasks"
    postmortem = postmortem_create(incident=incident, actor=actor, content=f"{tag} postmortem body")
    follow_up = follow_up_create(incident=incident, actor=actor, title=f"{tag} follow-up")
    debrief = debrief_schedule(
        incident=incident, actor=actor, scheduled_at=timezone.now() + timedelta(days=1), location=f"{tag} room",
    )
    member = MembershipFactory(org=org, role=Role.RESPONDER, user=UserFactory(email=f"{tag}-member@example.test"))
    invitation, _token = invitation_create(actor=owner_membership, email=f"{tag}-invitee@example.test", role="viewer")
    api_key, _secret = api_key_create(org=org, name=f"{tag} key", roles=["viewer"], created_by=owner_user)
    endpoint = endpoint_create(
        org=org, url=f"https://hooks.example.com/{tag}", events=["incident.created"], created_by=owner_user,
    )
    workspace = SlackWorkspace.objects.create(org=org, team_id=f"T{tag.upper()}", bot_token="xoxb-fake")
    # Another day in each org: a holiday is named by its date, and acme's own would be found.
    holiday = Holiday.objects.create(org=org, date=date(2030, 12, 24 if tag == SECRET else 23), name=f"{tag} holiday")
    return {
        "holiday": holiday,
        "slack_link_token": make_link_token(team_id=workspace.team_id, slack_user_id=f"U{tag.upper()}"),
        "incident": incident, "task": task, "postmortem": postmortem, "follow_up": follow_up,
        "debrief": debrief, "membership": member, "invitation": invitation, "api_key": api_key,
        "endpoint": endpoint,
        "names": [
            f"{tag} incident", f"{tag} postmortem body", f"{tag} follow-up", f"{tag} room",
            f"{tag}-member@example.test", f"{tag}-invitee@example.test", f"{tag} key",
            f"https://hooks.example.com/{tag}", "outsider@globex.test", f"{tag} holiday",
        ],
    }


def _snapshot(org) -> dict:
    """The fields an unscoped write could change, for every globex object."""
    return {
        "incidents": list(Incident.objects.filter(org=org).order_by("pk").values_list(
            "name", "summary", "status_id", "severity_id", "learning_flow", "closed_at")),
        "tasks": list(LearningTask.objects.filter(incident__org=org).order_by("pk").values_list(
            "state", "assignee_id", "title")),
        "postmortems": list(Postmortem.objects.filter(incident__org=org).order_by("pk").values_list(
            "content", "status", "shared_at")),
        "follow_ups": list(FollowUp.objects.filter(incident__org=org).order_by("pk").values_list(
            "title", "status", "assignee_id")),
        "debriefs": list(Debrief.objects.filter(incident__org=org).order_by("pk").values_list(
            "scheduled_at", "location")),
        "memberships": list(Membership.objects.filter(org=org).order_by("pk").values_list("user_id", "role")),
        "invitations": list(Invitation.objects.filter(org=org).order_by("pk").values_list("email", "revoked_at")),
        "api_keys": list(ApiKey.objects.filter(org=org).order_by("pk").values_list("name", "revoked_at")),
        "endpoints": list(WebhookEndpoint.objects.filter(org=org).order_by("pk").values_list(
            "url", "events", "is_active", "disabled_at", "secret")),
        # Every org's: a globex Slack user must not get linked to an acme member either.
        "slack_links": list(SlackUserLink.objects.order_by("pk").values_list("org_id", "user_id", "slack_user_id")),
        "timeline": TimelineEvent.objects.filter(incident__org=org).count(),
        "org": (org.slug, org.name),
        "holidays": list(org.holidays.order_by("pk").values_list("date", "name")),
    }


@pytest.fixture
def theirs(globex, outsider):
    return _world(globex, outsider, tag=SECRET)


@pytest.fixture
def ours(acme, owner):
    return _world(acme, owner, tag="acmeown")


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


def _fill(route: str, ids: dict[str, str]) -> str:
    return "/" + _PARAM.sub(lambda m: "acme" if m.group(2) == "org_slug" else ids[m.group(2)], route)


def _ids(world: dict) -> dict[str, str]:
    return {kwarg: make(world) for kwarg, make in ID_MAKERS.items()}


# Plausible form fields for every dashboard form: a POST that reached a view's
# form would change something, so only the org-scoped lookup stands between it
# and globex's data.
PAYLOAD = {
    "name": "pwned", "title": "pwned", "summary": "pwned", "content": "pwned", "description": "pwned",
    "message": "pwned", "reason": "pwned", "role": "viewer", "status": "completed", "priority": "high",
    "url": "https://evil.example.com/", "events": ["incident.created"], "enabled": "on",
    "learning_flow": "opt_out", "opt_out_reason": "pwned", "location": "pwned",
    "scheduled_at": "2030-01-01T10:00", "duration_minutes": "30", "action": "save",
}


def test_the_matrix_has_routes_to_check():
    names = {name for _route, name in OBJECT_ROUTES}
    assert {"incident_detail", "task_complete", "follow_up_edit", "debrief_invite", "settings_member_role",
            "settings_invitation_revoke", "settings_api_key_revoke", "settings_webhook"} <= names
    assert {"incident_list", "my_tasks", "settings_members", "settings_api_keys", "settings_webhooks"} <= {
        name for _route, name in LIST_ROUTES}


def test_every_object_kwarg_has_a_maker():
    unknown = {(route, kwarg) for route, _ in OBJECT_ROUTES for kwarg in _kwargs(route) if kwarg not in ID_MAKERS}
    assert not unknown, f"routes naming objects this matrix cannot make: add them to ID_MAKERS: {sorted(unknown)}"


@pytest.mark.parametrize(("route", "url_name"), OBJECT_ROUTES, ids=[name or route for route, name in OBJECT_ROUTES])
def test_another_orgs_ids_are_a_404_and_change_nothing(route, url_name, as_admin, globex, theirs, ours):
    kwargs = _kwargs(route)
    missing = [k for k in kwargs if k not in ID_MAKERS]
    assert not missing, f"{route}: no maker for {missing}; add one to ID_MAKERS"
    assert _served(route), f"{route} serves neither GET nor POST"
    their_ids, our_ids = _ids(theirs), _ids(ours)
    variants = [their_ids]
    if any(their_ids[k] != our_ids[k] for k in kwargs[1:]):  # a child object (not a fixed word like form_name)
        # Our own parent, their child: the child is still looked up through our org.
        variants.append({**their_ids, kwargs[0]: our_ids[kwargs[0]]})
    before = _snapshot(globex)

    for ids in variants:
        url = _fill(route, ids)
        # The same URL with each of globex's ids swapped for one that exists nowhere.
        missing_url = _fill(route, {k: str(uuid.uuid4()) if v == their_ids[k] else v for k, v in ids.items()})
        for method in ("get", "post"):
            response = as_admin.post(url, PAYLOAD) if method == "post" else as_admin.get(url)
            if method in _served(route):
                assert response.status_code == 404, f"{method.upper()} {url} → {response.status_code}"
            else:
                # A method the view does not serve: 404 or 405, exactly what a missing id gets.
                missing = as_admin.post(missing_url, PAYLOAD) if method == "post" else as_admin.get(missing_url)
                assert response.status_code in (404, 405), f"{method.upper()} {url} → {response.status_code}"
                assert response.status_code == missing.status_code, f"{method.upper()} {url} differs from a missing id"
            body = response.content.decode(errors="replace")
            for name in theirs["names"]:
                assert name not in body, f"{method.upper()} {url} shows {name!r}"

    assert _snapshot(globex) == before


@pytest.mark.parametrize(("route", "url_name"), LIST_ROUTES, ids=[name or route for route, name in LIST_ROUTES])
def test_list_pages_show_none_of_another_orgs_names(route, url_name, as_admin, theirs, ours):
    url = _fill(route, FIXED_KWARGS)
    response = as_admin.get(url)
    assert response.status_code < 500, f"GET {url} → {response.status_code}"
    body = response.content.decode(errors="replace")
    assert SECRET not in body, f"GET {url} shows globex data"
    for name in theirs["names"]:
        assert name not in body, f"GET {url} shows {name!r}"


def test_our_own_ids_work_so_the_404s_mean_something(as_admin, ours):
    """The same URLs with acme's ids are served: the 404s above are the org check, not a typo."""
    ids = _ids(ours)
    for name in ("incident_detail", "postmortem", "debrief_invite"):
        route = next(route for route, n in OBJECT_ROUTES if n == name)
        assert as_admin.get(_fill(route, ids)).status_code == 200, name
    assert "acmeown incident" in as_admin.get("/acme/incidents/").content.decode()
