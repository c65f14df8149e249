"""Live pages through the Django test client (docs/dashboard.md, "Live pages").

static/js/live.js asks for the page's own URL with ``X-Live-Poll: 1`` and the
version its page was rendered at in ``If-None-Match``: the same version is a
``304`` with no template rendered; any change the page would show is the page
again, with a new ``ETag``. Another org's incident is a 404 for the poll too.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from incidentio.common import live
from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
)
from incidentio.incidents.services import documents, follow_ups
from incidentio.incidents.services.incidents import (
    incident_assign_role,
    incident_declare,
    incident_edit,
    incident_post_update,
)
from learning import queries as learning_queries
from learning.models import (
    LearningFlowStatus,
    LearningRun,
    LearningTask,
    LifecycleRules,
    TaskState,
    TaskTemplate,
    UnmatchedPolicy,
)
from learning.services import configuration as learning_config
from learning.services import tasks as learning_tasks
from learning.services.flow import incident_close
from orgs.models import ApiKeyRole, Membership, Role
from orgs.services import api_key_create
from tests.form_errors import error_next_to

pytestmark = pytest.mark.django_db

POLL = {"HTTP_X_LIVE_POLL": "1"}
LIST = "/acme/incidents/"


def page_of(incident: Incident) -> str:
    return f"/{incident.org.slug}/incidents/{incident.public_id}/"


def poll(client, path: str, etag: str | None = None):
    headers = dict(POLL)
    if etag is not None:
        headers["HTTP_IF_NONE_MATCH"] = etag
    return client.get(path, **headers)


def etag_of(client, path: str) -> str:
    response = poll(client, path)
    assert response.status_code == 200, response.content[:500]
    return response["ETag"]


def declare(org, user, name: str = "Checkout is down", **kwargs) -> Incident:
    return incident_declare(org=org, actor=Actor.for_user(user), name=name, **kwargs)


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


@pytest.fixture
def incident(acme, owner, responder):
    return declare(acme, owner, severity=Severity.objects.get(org=acme, name="Minor"))


# --- The 304 path -------------------------------------------------------------------------------


def test_a_poll_of_an_unchanged_incident_page_is_a_304_without_rendering_for_one_query_of_its_own(
    as_responder, incident
):
    path = page_of(incident)
    etag = etag_of(as_responder, path)
    # The same request for an incident that does not exist: the session, the
    # org's membership, then the version's statement, which finds nothing.
    with CaptureQueriesContext(connection) as missing:
        assert poll(as_responder, f"/acme/incidents/{uuid.uuid4()}/", etag).status_code == 404
    with CaptureQueriesContext(connection) as queries:
        response = poll(as_responder, path, etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response.templates == []  # no template rendered
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "no-store"
    assert len(queries) == len(missing)
    with CaptureQueriesContext(connection) as rendered:
        assert poll(as_responder, path, '"stale"').status_code == 200
    assert len(rendered) > len(queries) + 3


def test_the_page_carries_the_version_its_first_poll_is_answered_304_with(as_responder, incident):
    path = page_of(incident)
    page = as_responder.get(path)
    assert page.status_code == 200
    assert "ETag" not in page  # the page itself is never cached under a version
    version = re.search(r'src="[^"]*js/live\.js" defer data-live-version="([0-9a-f]+)" data-live-interval="5000"',
                        page.content.decode()).group(1)
    assert poll(as_responder, path, f'"{version}"').status_code == 304


def test_a_poll_of_an_unchanged_incidents_list_is_a_304_without_rendering(as_responder, incident):
    etag = etag_of(as_responder, LIST)
    response = poll(as_responder, LIST, etag)
    assert response.status_code == 304
    assert response.templates == []
    filtered = f"{LIST}?category=live"
    assert poll(as_responder, filtered, etag_of(as_responder, filtered)).status_code == 304


def test_only_the_script_s_polls_are_answered_conditionally(as_responder, incident):
    path = page_of(incident)
    etag = etag_of(as_responder, path)
    response = as_responder.get(path, HTTP_IF_NONE_MATCH=etag)  # a browser's own revalidation
    assert response.status_code == 200
    assert "ETag" not in response


def test_a_poll_that_renders_leaves_the_flash_messages_for_the_next_page(as_responder, incident):
    path = page_of(incident)
    response = as_responder.post(f"{path}updates/", {"message": "Rolled back the deploy."})
    assert response.status_code == 302
    # Another tab's poll comes in between the post's redirect and the page it leads to.
    polled = poll(as_responder, path, '"stale"')
    assert polled.status_code == 200
    assert "Update posted." in as_responder.get(path).content.decode()


def test_a_poll_leaves_a_refused_actions_errors_for_the_page_it_redirects_to(as_responder, incident):
    path = page_of(incident)
    refused = as_responder.post(f"{path}updates/", {"message": "   "})
    assert refused.status_code == 303 and refused["Location"].startswith(path)

    # Another tab's poll comes in between the refused post's redirect and the page it leads to.
    polled = poll(as_responder, path, '"stale"')
    assert polled.status_code == 200
    assert error_next_to(polled.content.decode(), "id_message") == ""

    page = as_responder.get(path).content.decode()
    assert error_next_to(page, "id_message") == "This field is required."
    assert "js/live.js" in page  # the incident page at its own URL keeps itself up to date


# --- Every change the page shows moves the version on -------------------------------------------


def _role(org, kind=RoleKind.LEAD) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=kind)


def _follow_up(incident, actor, **kwargs) -> FollowUp:
    return follow_ups.follow_up_create(incident=incident, actor=actor, title="Add an alert", **kwargs)


def _closed_into_flow(incident, actor) -> Incident:
    return incident_close(incident=incident, actor=actor, learning_flow="run")


def _first_task(incident) -> LearningTask:
    return LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING).order_by("id").first()


def _api_edit(incident, **body):
    _key, token = api_key_create(org=incident.org, name="Status bot", roles=[ApiKeyRole.INCIDENT_EDITOR],
                                 created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", body, format="json")
    assert response.status_code == 200, response.content


# Each: (what it sets up first, the change). Both take (incident, actor, cast); the setup's changes
# are taken before the version is; the change must move it on.
def _template_added_to_a_status_to_come(incident) -> None:
    """The panel's "next · N tasks" counts the templates of the statuses to come."""
    run = LearningRun.objects.get(incident=incident)
    current = Incident.objects.get(pk=incident.pk).status_id
    to_come = LearningFlowStatus.objects.filter(flow=run.flow).exclude(status_id=current).first()
    TaskTemplate.objects.create(org=incident.org, flow=run.flow, status_id=to_come.status_id, title="Check the dashboards")


CHANGES = {
    "update posted": (None, lambda i, a, c: incident_post_update(incident=i, actor=a, message="Rolled back.")),
    "status": (None, lambda i, a, c: incident_edit(incident=i, actor=a, status=IncidentStatus.objects.get(
        org=i.org, category=StatusCategory.LIVE, name="Fixing"))),
    "severity": (None, lambda i, a, c: incident_edit(incident=i, actor=a, severity=Severity.objects.get(
        org=i.org, name="Critical"))),
    "summary": (None, lambda i, a, c: incident_edit(incident=i, actor=a, summary="Card payments fail.")),
    "a column written without save()": (None, lambda i, a, c: Incident.objects.filter(pk=i.pk).update(
        impact_started_at=timezone.now() - timedelta(hours=1))),
    "change through the API": (None, lambda i, a, c: _api_edit(i, name="Checkout is down for EU cards")),
    "change from Slack": (None, lambda i, a, c: incident_post_update(
        incident=i, actor=Actor.for_slack_user(slack_user_id="U123", name="sam"), message="From Slack.")),
    "role assigned": (None, lambda i, a, c: incident_assign_role(
        incident=i, actor=a, role=_role(i.org, RoleKind.REPORTER), user=c["responder"])),
    "role taken away": (
        lambda i, a, c: incident_assign_role(incident=i, actor=a, role=_role(i.org), user=c["responder"]),
        lambda i, a, c: incident_assign_role(incident=i, actor=a, role=_role(i.org), user=None)),
    "role assignment deleted without an event": (
        lambda i, a, c: incident_assign_role(incident=i, actor=a, role=_role(i.org), user=c["responder"]),
        lambda i, a, c: IncidentRoleAssignment.objects.filter(incident=i).delete()),
    "a role holder renamed": (
        lambda i, a, c: incident_assign_role(incident=i, actor=a, role=_role(i.org), user=c["responder"]),
        lambda i, a, c: type(c["responder"]).objects.filter(pk=c["responder"].pk).update(name="Rita R.")),
    "follow-up created": (None, lambda i, a, c: _follow_up(i, a)),
    "follow-up completed": (
        lambda i, a, c: _follow_up(i, a),
        lambda i, a, c: follow_ups.follow_up_complete(follow_up=FollowUp.objects.get(incident=i), actor=a)),
    "follow-up deleted": (
        lambda i, a, c: _follow_up(i, a), lambda i, a, c: FollowUp.objects.filter(incident=i).delete()),
    "follow-up's due date passed": (
        lambda i, a, c: _follow_up(i, a, due_at=timezone.now() + timedelta(days=3)),
        lambda i, a, c: FollowUp.objects.filter(incident=i).update(due_at=timezone.now() - timedelta(minutes=1))),
    "debrief scheduled": (None, lambda i, a, c: documents.debrief_schedule(
        incident=i, actor=a, scheduled_at=timezone.now() + timedelta(days=1), attendees=[c["responder"]])),
    "debrief attendee removed": (
        lambda i, a, c: documents.debrief_schedule(
            incident=i, actor=a, scheduled_at=timezone.now() + timedelta(days=1), attendees=[c["responder"]]),
        lambda i, a, c: Debrief.objects.get(incident=i).attendees.clear()),
    "post-mortem written": (None, lambda i, a, c: documents.postmortem_create(incident=i, actor=a)),
    "post-mortem status": (
        lambda i, a, c: documents.postmortem_create(incident=i, actor=a),
        lambda i, a, c: documents.postmortem_set_status(
            postmortem=i.postmortem, actor=a, status=PostmortemStatus.IN_REVIEW)),
    "closed into the learning flow": (None, lambda i, a, c: _closed_into_flow(i, a)),
    "learning task completed": (
        lambda i, a, c: _closed_into_flow(i, a),
        lambda i, a, c: learning_tasks.task_complete(task=_first_task(i), actor=a)),
    "learning task assigned": (
        lambda i, a, c: _closed_into_flow(i, a),
        lambda i, a, c: learning_tasks.task_assign(task=_first_task(i), actor=a, user=c["responder"])),
    "a task template added to a status to come": (
        lambda i, a, c: _closed_into_flow(i, a), lambda i, a, c: _template_added_to_a_status_to_come(i)),
    "the close prompt's rules": (None, lambda i, a, c: learning_config.rules_update(
        org=i.org, auto_enter_all=True, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.ASK)),
    "the rules deleted": (
        lambda i, a, c: learning_config.rules_update(
            org=i.org, auto_enter_all=True, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.ASK),
        lambda i, a, c: LifecycleRules.objects.filter(org=i.org).delete()),
    "a severity renamed": (None, lambda i, a, c: Severity.objects.filter(org=i.org, name="Minor").update(
        name="Low")),
    "the org renamed": (None, lambda i, a, c: type(i.org).objects.filter(pk=i.org.pk).update(name="Acme Corp")),
    "the viewer's own role": (None, lambda i, a, c: Membership.objects.filter(
        org=i.org, user=c["responder"]).update(role=Role.VIEWER)),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_every_change_the_incident_page_shows_moves_its_version_on(name, as_responder, incident, owner,
                                                                   responder):
    setup, change = CHANGES[name]
    cast, actor = {"responder": responder}, Actor.for_user(owner)
    if setup:
        setup(incident, actor, cast)
    path = page_of(incident)
    before = etag_of(as_responder, path)
    assert poll(as_responder, path, before).status_code == 304

    change(Incident.objects.get(pk=incident.pk), actor, cast)

    response = poll(as_responder, path, before)
    assert response.status_code == 200
    assert response["ETag"] != before
    # And it holds still again at the new version.
    assert poll(as_responder, path, response["ETag"]).status_code == 304


def test_the_incidents_list_moves_on_for_a_new_incident_and_a_role_change_on_its_page(
    as_responder, acme, owner, responder, incident
):
    etag = etag_of(as_responder, LIST)
    declare(acme, owner, name="Search is slow")
    response = poll(as_responder, LIST, etag)
    assert response.status_code == 200
    assert "Search is slow" in response.content.decode()

    etag = response["ETag"]
    incident_assign_role(incident=incident, actor=Actor.for_user(owner), role=_role(acme), user=responder)
    assert poll(as_responder, LIST, etag).status_code == 200


def test_a_filtered_list_does_not_move_for_an_incident_it_does_not_show(as_responder, acme, owner, incident):
    incident_close(incident=incident, actor=Actor.for_user(owner), learning_flow="run")
    filtered = f"{LIST}?category=learning"
    etag = etag_of(as_responder, filtered)
    declare(acme, owner, name="Search is slow")  # live: not in the learning category
    assert poll(as_responder, filtered, etag).status_code == 304
    assert poll(as_responder, LIST, etag_of(as_responder, LIST)).status_code == 304


# --- Who may poll -----------------------------------------------------------------------------


def test_a_viewer_gets_live_updates_too(viewer, acme, signed_in, incident, owner):
    client = signed_in(viewer, acme)
    path = page_of(incident)
    assert "js/live.js" in client.get(path).content.decode()
    etag = etag_of(client, path)
    assert poll(client, path, etag).status_code == 304
    incident_post_update(incident=incident, actor=Actor.for_user(owner), message="Rolled back.")
    response = poll(client, path, etag)
    assert response.status_code == 200
    assert "Rolled back." in response.content.decode()
    assert "js/live.js" in client.get(LIST).content.decode()


def test_another_org_s_incident_is_a_404_for_the_poll_too(as_responder, acme, responder, incident, globex,
                                                         outsider, signed_in):
    theirs = declare(globex, outsider, name="Globex outage")
    outsider_client = signed_in(outsider, globex)
    theirs_etag = etag_of(outsider_client, page_of(theirs))
    # The version Acme's page would have if it could read Globex's incident: a match must still be a 404.
    as_acme = SimpleNamespace(org=acme, membership=Membership.objects.get(org=acme, user=responder))
    today = timezone.now().astimezone(ZoneInfo(acme.time_zone)).date()
    guessed = f'"{live.page_version(as_acme, learning_queries.incident_page_version(globex, theirs.public_id), today)}"'
    for etag in (None, guessed, theirs_etag):
        assert poll(as_responder, f"/acme/incidents/{theirs.public_id}/", etag).status_code == 404
    # Globex's owner, through Globex's URL: Acme's incident is not there.
    assert poll(outsider_client, f"/globex/incidents/{incident.public_id}/").status_code == 404
    # Through Acme's URL they have no session for Acme: sign in (the script stops), never the page.
    response = poll(outsider_client, page_of(incident))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_poll_after_the_session_ended_is_sent_to_sign_in(as_responder, incident):
    path = page_of(incident)
    etag = etag_of(as_responder, path)
    as_responder.post("/accounts/logout/")
    response = poll(as_responder, path, etag)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
