"""One representation per resource, and the schema describes it.

Real incidents, learning tasks, follow-ups and post-mortems in every shape
they take are read through the API's endpoints and received through a real
webhook delivery (tests/webhooks/receiver.py); each JSON object is validated
against its component of the served ``/api/v2/openapi.json``, made strict: a
key the schema does not describe, a described key that is missing, a wrong
type, enum value, id or timestamp form all fail. And what a webhook sends is
what the API shows for the same object at that moment.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.test import Client
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp, Incident, IncidentRole, Postmortem, Severity, StatusCategory
from incidentio.incidents.services.documents import postmortem_create, postmortem_share
from incidentio.incidents.services.follow_ups import follow_up_complete, follow_up_create, follow_up_not_doing
from incidentio.incidents.services.incidents import (
    incident_assign_role,
    incident_cancel,
    incident_declare,
    incident_decline,
    incident_edit,
    incident_merge,
    incident_update_timestamps,
)
from learning.models import LearningTask, TaskKind, TaskState
from learning.services.flow import incident_close
from learning.services.tasks import task_assign, task_complete, task_not_doing
from orgs.models import Membership
from tests.webhooks.receiver import Receiver
from webhooks import services as webhook_services
from webhooks.models import WebhookEventType

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]


# --- The served schema, strict -------------------------------------------------------------------


def _strict(schema):
    """An OpenAPI 3.0 schema as a JSON Schema that refuses what it does not describe:
    objects take no other key and need every key they describe (the API always
    sends them all); ``nullable`` becomes "or null"."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {
        key: {name: _strict(field) for name, field in value.items()} if key == "properties" else _strict(value)
        for key, value in schema.items()
    }
    if "properties" in strict:
        strict["additionalProperties"] = False
        strict["required"] = sorted(strict["properties"])
    if strict.pop("nullable", False):
        return {"anyOf": [strict, {"type": "null"}]}
    return strict


#: The API's one timestamp form: UTC written Z, microseconds only when there are some
#: (incidentio/api/renderers.py); "+00:00" or a local offset would be drift.
API_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _api_timestamp(value) -> bool:
    return not isinstance(value, str) or API_TIMESTAMP.fullmatch(value) is not None


@FORMATS.checks("uri")
def _absolute_url(value) -> bool:
    return not isinstance(value, str) or (urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).netloc))


@pytest.fixture
def conforms():
    """``conforms(json, "Component")``: ``json`` is exactly what the served schema's component describes."""
    served = Client().get("/api/v2/openapi.json", HTTP_ACCEPT="application/json")
    assert served.status_code == 200
    components = _strict(json.loads(served.content)["components"])

    def check(instance, component: str) -> None:
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{component}", "components": components}, format_checker=FORMATS
        )
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
        assert not problems, f"{component}: {problems}"

    return check


@pytest.fixture
def receiver(acme):
    receiver = Receiver()
    endpoint = webhook_services.endpoint_create(
        org=acme, url=receiver.url, events=list(WebhookEventType.values), created_by=None
    )
    receiver.secret = endpoint.secret
    yield receiver
    receiver.close()


# --- Every shape ------------------------------------------------------------------------------------


def _every_shape(acme, owner, responder, viewer) -> None:
    """Incidents in every status category, role holders present and departed, tasks
    in every state, follow-ups and post-mortems: each through its service, so the
    webhooks fire as in production."""
    actor = Actor.for_user(owner)
    severities = Severity.objects.filter(org=acme).order_by("rank")

    def declare(name, **kwargs):
        return incident_declare(org=acme, actor=actor, name=name, **kwargs)

    declare("No severity <b>&</b>", summary="", severity=None, triage=True)
    staffed = declare("Checkout is down", summary="**Bold** summary\u2028é", severity=severities.last(),
                      lead=responder)
    for role in IncidentRole.objects.filter(org=acme).order_by("rank")[1:]:
        incident_assign_role(incident=staffed, actor=actor, role=role, user=viewer)
    now = timezone.now()
    incident_update_timestamps(incident=staffed, actor=actor, values={
        "impact_started_at": now - timedelta(hours=1), "identified_at": now.replace(microsecond=123456),
        "fixed_at": now.replace(microsecond=0),
    })
    incident_merge(incident=declare("Checkout again", triage=True), actor=actor, into=staffed)
    incident_decline(incident=declare("A drill", triage=True), actor=actor, reason="Only a drill.")
    incident_cancel(incident=declare("Typo", severity=severities.first()), actor=actor, reason="Declared twice.")
    opted_out = declare("Cert warning", severity=severities.first())
    incident_close(incident=opted_out, actor=actor, learning_flow="opt_out", opt_out_reason="Renewed itself.")
    documenting = declare("Search is slow", severity=severities.first(), lead=viewer)
    incident_close(incident=documenting, actor=actor, learning_flow="run")  # its tasks go to the viewer
    progressed = declare("Login flaps", severity=severities.first())
    incident_close(incident=progressed, actor=actor, learning_flow="run")
    follow_up_create(incident=staffed, actor=actor, title="Alert on 502s", assignee=viewer, priority="high")

    # The viewer leaves: their roles, tasks and follow-up stay, with a null user id.
    Membership.objects.filter(org=acme, user=viewer).delete()

    postmortem_create(incident=documenting, actor=actor)  # completes its task automatically
    task_not_doing(task=_task(documenting, TaskKind.REVIEW_TIMELINE), actor=actor, reason="Ten minutes long.")
    task_complete(task=_task(progressed, TaskKind.REVIEW_TIMELINE), actor=actor)
    task_assign(task=_task(progressed, TaskKind.CREATE_FOLLOW_UPS), actor=actor, user=responder)
    shared = postmortem_create(incident=staffed, actor=actor, content="# What happened\n\nA *bad* deploy.")
    postmortem_share(postmortem=shared, actor=actor)
    follow_up_create(incident=staffed, actor=actor, title="Nobody's yet")
    follow_up_complete(follow_up=follow_up_create(incident=staffed, actor=actor, title="Roll back"), actor=actor)
    follow_up_not_doing(follow_up=follow_up_create(incident=staffed, actor=actor, title="Rewrite it"), actor=actor,
                        reason="Not worth it.")
    incident_edit(incident=staffed, actor=actor, name="Checkout is down for everyone")


def _task(incident: Incident, kind: str) -> LearningTask:
    return LearningTask.objects.get(incident=incident, kind=kind)


# --- The test ---------------------------------------------------------------------------------------


def test_the_api_and_webhooks_send_one_representation_that_the_schema_describes(
    acme, owner, responder, viewer, receiver, api, api_key, conforms
):
    _every_shape(acme, owner, responder, viewer)
    client = api(api_key(acme))

    def get(path: str, component: str) -> dict:
        response = client.get(f"/api/v2/{path}")
        assert response.status_code == 200, response.content
        body = response.json()
        conforms(body, component)
        return body

    # The API: lists and details of every resource.
    incidents = get("incidents?page_size=25", "IncidentListResponse")["incidents"]
    assert len(incidents) == Incident.objects.filter(org=acme).count() == 8
    for incident in incidents:
        assert get(f"incidents/{incident['id']}", "IncidentResponse")["incident"] == incident
        assert get(f"incidents/{incident['reference']}", "IncidentResponse")["incident"] == incident
    tasks = get("learning_tasks?page_size=250", "LearningTaskListResponse")["learning_tasks"]
    assert len(tasks) == LearningTask.objects.filter(org=acme).count() == 8
    for task in tasks:
        assert get(f"learning_tasks/{task['id']}", "LearningTaskResponse")["learning_task"] == task
    follow_ups = []
    for incident in incidents:
        follow_ups += get(f"incidents/{incident['id']}/follow_ups", "FollowUpListResponse")["follow_ups"]
    assert len(follow_ups) == FollowUp.objects.count() == 4
    for follow_up in follow_ups:
        assert get(f"follow_ups/{follow_up['id']}", "FollowUpResponse")["follow_up"] == follow_up
    postmortems = [
        get(f"incidents/{postmortem.incident.public_id}/postmortem", "PostmortemResponse")["postmortem"]
        for postmortem in Postmortem.objects.select_related("incident")
    ]

    # Every shape is there, so none goes unchecked.
    assert {i["incident_status"]["category"] for i in incidents} == set(StatusCategory.values)
    assert {i["learning_flow"] for i in incidents} >= {"not_entered", "running", "opted_out"}
    assert any(i["severity"] is None for i in incidents)
    holders = [role["user"] for i in incidents for role in i["roles"]]
    assert {h["id"] is None for h in holders} == {True, False}  # members, and one who left
    assert {t["state"] for t in tasks} == set(TaskState.values)
    assert {(t["assignee"] or {}).get("id") is None for t in tasks if t["assignee"]} == {True, False}
    assert any(t["assigned_manually"] for t in tasks) and any(t["completed_automatically"] for t in tasks)
    assert {f["status"] for f in follow_ups} == {"outstanding", "completed", "not_doing"}
    assert None in [f["assignee"] for f in follow_ups] and any(f["assignee"] for f in follow_ups)
    assert {p["shared"] for p in postmortems} == {True, False}

    # The webhooks: every delivery's incident and task is the schema's Incident and LearningTaskOut ...
    payloads = receiver.payloads()
    assert payloads and all(request["verified"] for request in receiver.requests)
    sent_incidents, sent_tasks = {}, {}
    for payload in payloads:
        conforms(payload["data"]["incident"], "Incident")
        sent_incidents[payload["data"]["incident"]["id"]] = payload["data"]["incident"]
        if payload["type"] == "learning_task.updated":
            conforms(payload["data"]["learning_task"], "LearningTaskOut")
            sent_tasks[payload["data"]["learning_task"]["id"]] = payload["data"]["learning_task"]
    assert {i["incident_status"]["category"] for i in sent_incidents.values()} == set(StatusCategory.values)
    assert {t["state"] for t in sent_tasks.values()} == set(TaskState.values)
    # ... and, for each, the last one sent is what the API shows now (nothing changed since).
    assert sent_incidents == {incident["id"]: incident for incident in incidents}
    assert sent_tasks == {task["id"]: task for task in tasks if task["id"] in sent_tasks}
