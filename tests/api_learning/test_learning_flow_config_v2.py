"""``/api/v2/learning_flow``, version 2: every learning flow and every incident
type's rules in one document (version 1, the single-flow document, has its
tests in test_learning_flow_config_api.py).

The org has two flows: Default, and Security (tests/learning/security_flow.py),
which the Security type always runs."""

from __future__ import annotations

import copy
import uuid

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentStatus, IncidentType, Severity
from learning.models import LearningFlow, LearningFlowStatus, LearningRun, LifecycleRules, TaskTemplate
from learning.services.flow import incident_close
from tests.api_learning.conftest import error_fields
from tests.api_learning.test_learning_flow_config_api import snapshot as v1_snapshot
from tests.learning.security_flow import REVIEW_TASK, declare_security, make_security

pytestmark = pytest.mark.django_db

CONFIGURATION = (IncidentStatus, TaskTemplate, LifecycleRules, LearningFlow, LearningFlowStatus, LearningRun)


def snapshot(org) -> dict:
    return v1_snapshot(org) | {
        "flows": [model_to_dict(f) | {"public_id": f.public_id} for f in LearningFlow.objects.filter(org=org)],
        "steps": list(LearningFlowStatus.objects.filter(flow__org=org).order_by("pk").values()),
        "runs": list(LearningRun.objects.filter(flow__org=org).order_by("pk").values()),
        "rules": list(LifecycleRules.objects.filter(org=org).order_by("pk").values()),
    }


@pytest.fixture
def security(acme):
    return make_security(acme)


@pytest.fixture
def document(admin_key, security) -> dict:
    response = admin_key.get("learning_flow")
    assert response.status_code == 200
    return response.json()


def test_get_returns_every_flow_default_first_and_every_types_rules(document, acme, security):
    assert document["version"] == 2
    default, theirs = document["learning_flows"]
    assert (default["name"], default["is_default"]) == ("Default", True)
    assert [s["name"] for s in default["learning_statuses"]] == ["Documenting", "Reviewing"]
    assert (theirs["id"], theirs["name"], theirs["is_default"]) == (str(security.flow.public_id), "Security", False)
    review, documenting = theirs["learning_statuses"]
    assert (review["name"], documenting["id"]) == ("Security review", default["learning_statuses"][0]["id"])
    [template] = review["task_templates"]
    assert (template["title"], template["due_days"], template["due_from"]) == (REVIEW_TASK, 2, "incident_resolved")
    critical = Severity.objects.get(org=acme, name="Critical")
    assert document["incident_types"] == [
        {"id": str(IncidentType.objects.get(org=acme, is_default=True).public_id), "learning_flow_id": None,
         "auto_enter_all": False, "auto_enter_min_severity_id": str(critical.public_id), "otherwise": "ask"},
        {"id": str(security.incident_type.public_id), "learning_flow_id": str(security.flow.public_id),
         "auto_enter_all": True, "auto_enter_min_severity_id": None, "otherwise": "ask"},
    ]


def test_putting_back_what_get_returned_changes_nothing(admin_key, acme, owner, security, document, commit):
    commit(incident_close, incident=declare_security(acme, owner, security), actor=Actor.for_user(owner))
    document = admin_key.get("learning_flow").json()
    before = snapshot(acme)
    with CaptureQueriesContext(connection) as queries:
        response = admin_key.put("learning_flow", document)
    assert response.status_code == 200, response.content
    assert response.json() == document
    assert snapshot(acme) == before
    tables = [model._meta.db_table for model in CONFIGURATION]
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
              and any(table in q["sql"] for table in tables)]
    assert writes == []


def None_actor(user):
    from incidentio.common.actors import Actor

    return Actor.for_user(user)


def test_a_new_flow_shares_a_status_adds_one_and_a_type_then_runs_it(admin_key, acme, security, document):
    default, theirs = document["learning_flows"]
    documenting = copy.deepcopy(default["learning_statuses"][0])
    documenting["task_templates"] = [{"title": "List the customers affected", "kind": "custom", "due_days": 3,
                                      "due_from": "incident_resolved"}]
    theirs["name"] = "Security and privacy"
    document["learning_flows"].append({
        "name": "Customer data", "description": "Personal data was exposed.",
        "learning_statuses": [documenting, {"name": "Notify customers", "task_templates": []}],
    })

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 200, response.content
    flows = {f["name"]: f for f in response.json()["learning_flows"]}
    assert list(flows) == ["Default", "Customer data", "Security and privacy"]
    customer = flows["Customer data"]
    assert [s["name"] for s in customer["learning_statuses"]] == ["Documenting", "Notify customers"]
    [template] = customer["learning_statuses"][0]["task_templates"]
    assert (template["due_days"], template["due_from"]) == (3, "incident_resolved")
    # Documenting is one status in three flows, each with its own templates.
    assert customer["learning_statuses"][0]["id"] == default["learning_statuses"][0]["id"]
    assert len(flows["Default"]["learning_statuses"][0]["task_templates"]) == 4

    # The type is pointed at the new flow with its id, and the new flow made the default.
    document = response.json()
    document["incident_types"][1]["learning_flow_id"] = customer["id"]
    for flow in document["learning_flows"]:
        flow["is_default"] = flow["name"] == "Customer data"
    response = admin_key.put("learning_flow", document)
    assert response.status_code == 200, response.content
    assert LifecycleRules.objects.get(incident_type=security.incident_type).learning_flow.name == "Customer data"
    assert LearningFlow.objects.get(org=acme, is_default=True).name == "Customer data"
    assert response.json()["learning_flows"][0]["name"] == "Customer data"


def test_a_flow_left_out_is_deleted_unless_an_incident_ran_it(admin_key, acme, owner, security, document, commit):
    unused = dict(copy.deepcopy(document["learning_flows"][1]), id=None, name="Spare")
    for status in unused["learning_statuses"]:
        status["task_templates"] = []
    document["learning_flows"].append(unused)
    document = admin_key.put("learning_flow", document).json()
    assert [f["name"] for f in document["learning_flows"]] == ["Default", "Security", "Spare"]
    commit(incident_close, incident=declare_security(acme, owner, security), actor=Actor.for_user(owner))
    before = snapshot(acme)

    trimmed = dict(document, learning_flows=document["learning_flows"][:1])
    trimmed["incident_types"] = [dict(t, learning_flow_id=None) for t in document["incident_types"]]
    response = admin_key.put("learning_flow", trimmed)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["code"], error["source"]["field"]) == ("in_use", "learning_flows")
    assert "Security" in error["message"] and "an incident keeps the flow it started with" in error["message"]
    assert snapshot(acme) == before

    document["learning_flows"] = document["learning_flows"][:2]
    assert admin_key.put("learning_flow", document).status_code == 200
    assert list(LearningFlow.objects.filter(org=acme).values_list("name", flat=True)) == ["Default", "Security"]


def test_every_problem_comes_back_at_once_with_its_path_and_nothing_is_written(
    admin_key, acme, globex, security, document
):
    before = snapshot(acme)
    default, theirs = document["learning_flows"]
    theirs["is_default"] = True
    theirs["learning_statuses"][0]["task_templates"][0]["due_days"] = 400
    theirs["learning_statuses"][0]["task_templates"][0]["due_from"] = "whenever"
    theirs["learning_statuses"][1]["name"] = "Documenting it"  # the same status, named otherwise than in Default
    their_flow = LearningFlow.objects.get(org=globex, is_default=True)
    document["incident_types"][0]["learning_flow_id"] = str(their_flow.public_id)
    document["incident_types"][1]["id"] = str(uuid.uuid4())
    document["incident_types"].append(dict(document["incident_types"][0], learning_flow_id=None))

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 422
    assert error_fields(response) == [
        "learning_flows[1].learning_statuses[0].task_templates[0].due_days",
        "learning_flows[1].learning_statuses[0].task_templates[0].due_from",
        "learning_flows[1].learning_statuses[1]",
        "incident_types[0].learning_flow_id",
        "incident_types[1].id",
        "incident_types[2].id",
    ]
    assert snapshot(acme) == before

    # Two defaults, on their own, are refused too.
    document = admin_key.get("learning_flow").json()
    document["learning_flows"][1]["is_default"] = True
    response = admin_key.put("learning_flow", document)
    assert error_fields(response) == ["learning_flows"]
    assert snapshot(acme) == before


def test_a_version_1_document_leaves_the_other_flows_and_types_alone(admin_key, acme, security, document):
    before = snapshot(acme)
    v1 = admin_key.get("learning_flow", {"version": 1}).json()
    assert [s["name"] for s in v1["learning_statuses"]] == ["Documenting", "Reviewing"]
    v1["learning_statuses"] = v1["learning_statuses"][:1]  # Reviewing, only in Default, is deleted

    response = admin_key.put("learning_flow", v1)

    assert response.status_code == 200, response.content
    assert response.json() == admin_key.get("learning_flow", {"version": 1}).json()
    after = admin_key.get("learning_flow").json()
    assert after["learning_flows"][1] == document["learning_flows"][1]
    assert after["incident_types"] == document["incident_types"]
    assert not IncidentStatus.objects.filter(org=acme, name="Reviewing").exists()
    assert snapshot(acme)["flows"] == before["flows"]


def test_a_version_it_does_not_know_is_refused(admin_key, acme, document):
    document["version"] = 3
    assert error_fields(admin_key.put("learning_flow", document)) == ["version"]
    assert admin_key.get("learning_flow", {"version": 7}).status_code == 422
