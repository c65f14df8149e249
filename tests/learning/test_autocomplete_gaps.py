"""Tasks completing themselves (learning/services/autocomplete.py): gaps that
mutation testing found (issue 23).

- Scope: work done on *another* incident — of the same organization or of
  another one — never completes this incident's tasks, neither when its tasks
  are created (``already_done``) nor when the work happens while both incidents
  are in the flow (``on_timeline_event``).
- What an automatic completion records: when (``addressed_at``), that it was
  automatic (the "automatic" badge, the API's ``completed_automatically``) and
  why (the timeline).
- An "Assign a role" task completes only when *its* role is assigned.

Assertions go through what people see: the API's task JSON
(``/api/v2/learning_tasks``), the incident page and its timeline.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, IncidentStatus, PostmortemStatus, RoleKind, Severity
from incidentio.incidents.services.configuration import role_create
from incidentio.incidents.services.documents import (
    debrief_schedule,
    postmortem_create,
    postmortem_set_status,
    postmortem_share,
)
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_assign_role, incident_declare
from learning.models import TaskKind
from learning.services.configuration import template_create
from learning.services.flow import incident_close
from orgs.models import ApiKeyRole
from orgs.services import api_key_create
from tests.api_learning.conftest import ApiClient

pytestmark = pytest.mark.django_db

DOCUMENTING = {TaskKind.CREATE_POSTMORTEM, TaskKind.REVIEW_TIMELINE, TaskKind.UPDATE_TIMESTAMPS,
               TaskKind.CREATE_FOLLOW_UPS, TaskKind.ASSIGN_ROLE}
REVIEWING = {TaskKind.SCHEDULE_DEBRIEF, TaskKind.COMPLETE_POSTMORTEM, TaskKind.SHARE_POSTMORTEM,
             TaskKind.REVIEW_FOLLOW_UPS}


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance runs on commit through Celery; in-process here."""


def _api(org) -> ApiClient:
    _key, token = api_key_create(org=org, name="tests", roles=[ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR],
                                 created_by=None)
    return ApiClient(token)


@pytest.fixture
def acme_api(acme) -> ApiClient:
    return _api(acme)


@pytest.fixture
def globex_api(globex) -> ApiClient:
    return _api(globex)


def _comms_role(org) -> IncidentRole:
    return role_create(org=org, name="Communications Lead", shortform="comms")


@pytest.fixture
def acme_comms(acme) -> IncidentRole:
    """Acme's Documenting asks for a communications lead ("Assign a role")."""
    role = _comms_role(acme)
    template_create(org=acme, status=IncidentStatus.objects.get(org=acme, name="Documenting"),
                    title="Assign a communications lead", kind=TaskKind.ASSIGN_ROLE, target_role=role)
    return role


def declare(org, user, name, lead=None):
    return incident_declare(org=org, actor=Actor.for_user(user), name=name, lead=lead,
                            severity=Severity.objects.get(org=org, name="Minor"))


def into_flow(incident, user, commit):
    return commit(incident_close, incident=incident, actor=Actor.for_user(user), learning_flow="run")


def do_all_the_work(incident, user, commit, role: IncidentRole) -> None:
    """Everything a built-in task asks for, done on ``incident``."""
    actor = Actor.for_user(user)
    postmortem = commit(postmortem_create, incident=incident, actor=actor)
    commit(postmortem_set_status, postmortem=postmortem, actor=actor, status=PostmortemStatus.COMPLETED)
    commit(postmortem_share, postmortem=postmortem, actor=actor)
    commit(debrief_schedule, incident=incident, actor=actor, scheduled_at=timezone.now() + timedelta(days=1))
    commit(follow_up_create, incident=incident, actor=actor, title="Alert on queue depth")
    commit(incident_assign_role, incident=incident, actor=actor, role=role, user=user)


def api_tasks(api: ApiClient, incident, status_name: str | None = None) -> dict[str, dict]:
    """The incident's tasks as the API shows them, by kind."""
    response = api.get("learning_tasks", {"incident_id": str(incident.public_id), "page_size": 100})
    assert response.status_code == 200, response.content
    return {t["kind"]: t for t in response.json()["learning_tasks"]
            if status_name is None or t["learning_status"]["name"] == status_name}


def states(api: ApiClient, incident, status_name: str) -> dict[str, tuple[str, bool]]:
    return {kind: (t["state"], t["completed_automatically"]) for kind, t in api_tasks(api, incident, status_name).items()}


def complete_by_hand(api: ApiClient, incident, status_name: str, commit) -> None:
    for task in api_tasks(api, incident, status_name).values():
        if task["state"] == "outstanding":
            response = commit(api.post, f"learning_tasks/{task['id']}/actions/complete")
            assert response.status_code == 200, response.content


OUTSTANDING = ("outstanding", False)


# --- Scope: work on another incident counts for that incident only -------------------------------


@pytest.mark.parametrize("where", ["same_org", "other_org"])
def test_work_done_on_another_incident_does_not_complete_new_tasks(where, acme, acme_comms, owner, responder,
                                                                   globex, outsider, acme_api, commit):
    """``already_done`` asks about *this* incident: a post-mortem (created, completed,
    shared), a debrief, a follow-up and the role on another incident count for nothing
    here, when the flow starts (Documenting) nor when the incident advances (Reviewing)."""
    if where == "same_org":
        elsewhere = declare(acme, owner, "Search is slow", lead=owner)
        do_all_the_work(elsewhere, owner, commit, acme_comms)
    else:
        elsewhere = declare(globex, outsider, "Search is slow", lead=outsider)
        do_all_the_work(elsewhere, outsider, commit, _comms_role(globex))

    incident = into_flow(declare(acme, owner, "Checkout is down", lead=responder), owner, commit)

    assert states(acme_api, incident, "Documenting") == {kind: OUTSTANDING for kind in DOCUMENTING}

    complete_by_hand(acme_api, incident, "Documenting", commit)

    assert states(acme_api, incident, "Reviewing") == {kind: OUTSTANDING for kind in REVIEWING}
    assert all(t["addressed_at"] is None for t in api_tasks(acme_api, incident, "Reviewing").values())


def test_work_done_on_one_incident_in_the_flow_completes_only_its_tasks(acme, acme_comms, owner, responder,
                                                                        globex, outsider, acme_api, globex_api,
                                                                        commit, signed_in):
    """Incidents A and B of acme, and G of globex, are all in the flow: the work done on
    B completes B's tasks (``on_timeline_event``), never A's nor G's."""
    a = into_flow(declare(acme, owner, "Checkout is down", lead=responder), owner, commit)
    b = into_flow(declare(acme, owner, "Search is slow", lead=responder), owner, commit)
    g = into_flow(declare(globex, outsider, "Billing is late", lead=outsider), outsider, commit)
    actor = Actor.for_user(owner)

    postmortem = commit(postmortem_create, incident=b, actor=actor)
    commit(follow_up_create, incident=b, actor=actor, title="Alert on queue depth")
    commit(incident_assign_role, incident=b, actor=actor, role=acme_comms, user=owner)

    automatic = ("completed", True)
    assert states(acme_api, b, "Documenting") == {
        TaskKind.CREATE_POSTMORTEM: automatic, TaskKind.CREATE_FOLLOW_UPS: automatic,
        TaskKind.ASSIGN_ROLE: automatic,
        TaskKind.REVIEW_TIMELINE: OUTSTANDING, TaskKind.UPDATE_TIMESTAMPS: OUTSTANDING,
    }
    assert states(acme_api, a, "Documenting") == {kind: OUTSTANDING for kind in DOCUMENTING}
    assert set(states(globex_api, g, "Documenting").values()) == {OUTSTANDING}

    # Both move on to Reviewing; then B's post-mortem is completed and shared, and its debrief scheduled.
    complete_by_hand(acme_api, a, "Documenting", commit)
    complete_by_hand(acme_api, b, "Documenting", commit)
    assert states(acme_api, a, "Reviewing") == states(acme_api, b, "Reviewing") == {
        kind: OUTSTANDING for kind in REVIEWING
    }

    commit(postmortem_set_status, postmortem=postmortem, actor=actor, status=PostmortemStatus.COMPLETED)
    commit(postmortem_share, postmortem=postmortem, actor=actor)
    commit(debrief_schedule, incident=b, actor=actor, scheduled_at=timezone.now() + timedelta(days=1))

    assert states(acme_api, b, "Reviewing") == {
        TaskKind.SCHEDULE_DEBRIEF: automatic, TaskKind.COMPLETE_POSTMORTEM: automatic,
        TaskKind.SHARE_POSTMORTEM: automatic, TaskKind.REVIEW_FOLLOW_UPS: OUTSTANDING,
    }
    assert states(acme_api, a, "Reviewing") == {kind: OUTSTANDING for kind in REVIEWING}
    # A's page says nothing completed itself.
    page = signed_in(responder, acme).get(f"/acme/incidents/{a.public_id}/").content.decode()
    assert "completed automatically" not in page
    assert 'class="badge ok">automatic<' not in page


# --- What an automatic completion records ---------------------------------------------------------


def task_items(page: str) -> dict[str, str]:
    """The incident page's learning tasks: title → the task's list item."""
    items = re.findall(r'<li class="task [^"]*" data-testid="task">(.*?)</li>', page, re.S)
    return {re.search(r'<strong class="task-title">(.*?)</strong>', item).group(1): item for item in items}


def test_an_automatic_completion_says_when_that_it_was_automatic_and_why(acme, owner, responder, acme_api, commit,
                                                                         signed_in):
    incident = into_flow(declare(acme, owner, "Checkout is down", lead=responder), owner, commit)
    before = timezone.now()

    commit(postmortem_create, incident=incident, actor=Actor.for_user(owner))

    tasks = api_tasks(acme_api, incident, "Documenting")
    created = tasks[TaskKind.CREATE_POSTMORTEM]
    assert created["state"] == "completed"
    assert created["completed_automatically"] is True
    assert created["addressed_at"] is not None
    # Persisted, not only on the object the service held: the single-task view reads the row.
    one = acme_api.get(f"learning_tasks/{created['id']}").json()["learning_task"]
    assert one["addressed_at"] == created["addressed_at"]
    assert parse_datetime(one["addressed_at"]) >= before
    assert all(t["addressed_at"] is None and not t["completed_automatically"]
               for kind, t in tasks.items() if kind != TaskKind.CREATE_POSTMORTEM)

    page = signed_in(responder, acme).get(f"/acme/incidents/{incident.public_id}/").content.decode()
    items = task_items(page)
    assert 'class="badge ok">automatic<' in items["Create the post-mortem"]
    assert all('class="badge ok">automatic<' not in item for title, item in items.items()
               if title != "Create the post-mortem")
    assert "“Create the post-mortem” completed automatically: a post-mortem was created" in page


def role_tasks(api: ApiClient, incident) -> dict[str, dict]:
    """The incident's "Assign a role" tasks as the API shows them, by title."""
    response = api.get("learning_tasks", {"incident_id": str(incident.public_id), "page_size": 100})
    return {t["title"]: t for t in response.json()["learning_tasks"] if t["kind"] == TaskKind.ASSIGN_ROLE}


def test_assigning_a_role_completes_only_the_task_asking_for_that_role(acme, acme_comms, owner, admin, responder,
                                                                        acme_api, commit):
    scribe = role_create(org=acme, name="Scribe", shortform="scribe")
    template_create(org=acme, status=IncidentStatus.objects.get(org=acme, name="Documenting"),
                    title="Assign a scribe", kind=TaskKind.ASSIGN_ROLE, target_role=scribe)
    incident = into_flow(declare(acme, owner, "Checkout is down", lead=responder), owner, commit)
    actor = Actor.for_user(owner)

    # The lead changing hands asks for no role task.
    commit(incident_assign_role, incident=incident, actor=actor,
           role=IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD), user=admin)
    commit(incident_assign_role, incident=incident, actor=actor, role=acme_comms, user=admin)

    by_title = role_tasks(acme_api, incident)
    assert by_title["Assign a communications lead"]["state"] == "completed"
    assert by_title["Assign a communications lead"]["completed_automatically"] is True
    assert by_title["Assign a scribe"]["state"] == "outstanding"
    assert by_title["Assign a scribe"]["addressed_at"] is None

    commit(incident_assign_role, incident=incident, actor=actor, role=scribe, user=owner)

    assert {title: t["state"] for title, t in role_tasks(acme_api, incident).items()} == {
        "Assign a communications lead": "completed", "Assign a scribe": "completed",
    }
