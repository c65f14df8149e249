"""Contract of ``/api/v2/learning_flow``: the whole learning-flow configuration
as one document (config as code).

GET returns it; PUT replaces it atomically after validating all of it. The
tests assert the round trip is a no-op down to every column, that edits keep
ids, that every problem comes back at once with its path while nothing is
written, and that in-flight incidents keep their tasks.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from incidentio.incidents.models import Incident, IncidentRole, IncidentStatus, RoleKind, Severity, StatusCategory
from learning.models import LearningTask, LifecycleRules, TaskTemplate
from learning.selectors import default_flow
from learning.services.config_document import LearningFlowDocumentInvalid, learning_flow_replace
from learning.services.flow import flow_steps
from tests.api_learning.conftest import error_fields, tasks_of

pytestmark = pytest.mark.django_db


def snapshot(org) -> dict:
    """Every column of every row the learning-flow configuration is made of."""
    return {
        "statuses": [model_to_dict(s) | {"public_id": s.public_id}
                     for s in IncidentStatus.objects.filter(org=org).order_by("pk")],
        "templates": [model_to_dict(t) | {"public_id": t.public_id}
                      for t in TaskTemplate.objects.filter(org=org).order_by("pk")],
        "rules": [model_to_dict(r) for r in LifecycleRules.objects.filter(org=org)],
        "tasks": list(LearningTask.objects.filter(org=org).order_by("pk").values()),
    }


def role(org, kind) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=kind)


@pytest.fixture
def document(admin_key, acme) -> dict:
    response = admin_key.get("learning_flow", {"version": 1})
    assert response.status_code == 200
    return response.json()


# --- Reading -----------------------------------------------------------------------------------


def test_get_returns_statuses_templates_and_rules_in_order(document, acme):
    lead = str(role(acme, RoleKind.LEAD).public_id)
    statuses = IncidentStatus.objects.filter(org=acme, category=StatusCategory.LEARNING).order_by("rank")
    assert [s["id"] for s in document["learning_statuses"]] == [str(s.public_id) for s in statuses]
    documenting = document["learning_statuses"][0]
    assert documenting["name"] == "Documenting"
    assert set(documenting) == {"id", "name", "description", "task_templates"}
    assert [t["kind"] for t in documenting["task_templates"]] == [
        "create_postmortem", "review_timeline", "update_timestamps", "create_follow_ups"]
    first = documenting["task_templates"][0]
    template = TaskTemplate.objects.get(public_id=first["id"])
    assert first == {
        "id": str(template.public_id), "title": "Create the post-mortem", "instructions": template.instructions,
        "kind": "create_postmortem", "required": True, "default_assignee_role_id": lead, "target_role_id": None,
    }
    critical = Severity.objects.get(org=acme, name="Critical")
    assert document["lifecycle_rules"] == {"auto_enter_min_severity_id": str(critical.public_id), "otherwise": "ask"}


def test_any_key_may_read_it_and_another_org_sees_its_own(reader, stranger, document):
    assert reader.get("learning_flow", {"version": 1}).json() == document
    theirs = stranger.get("learning_flow", {"version": 1}).json()
    assert {s["id"] for s in theirs["learning_statuses"]}.isdisjoint({s["id"] for s in document["learning_statuses"]})


# --- The round trip ------------------------------------------------------------------------------


def test_putting_back_what_get_returned_changes_nothing(admin_key, acme, document, in_documenting):
    before = snapshot(acme)

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 200, response.content
    assert response.json() == document
    assert snapshot(acme) == before


def test_the_round_trip_issues_no_write_to_the_configuration(admin_key, document):
    tables = (IncidentStatus._meta.db_table, TaskTemplate._meta.db_table, LifecycleRules._meta.db_table)
    with CaptureQueriesContext(connection) as queries:
        assert admin_key.put("learning_flow", document).status_code == 200
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
              and any(table in q["sql"] for table in tables)]
    assert writes == []


def test_reading_the_flow_takes_the_same_queries_however_big_it_is(admin_key, acme, document,
                                                                    django_assert_max_num_queries):
    # 16: the rate-limit counter costs a few queries with the database cache (none with Redis).
    with django_assert_max_num_queries(16) as small:
        admin_key.get("learning_flow", {"version": 1})
    few = len(small.captured_queries)  # now: the next request resets the connection's query log
    for status in document["learning_statuses"]:
        status["task_templates"] += [{"title": f"Extra {n}", "kind": "custom"} for n in range(10)]
    document["learning_statuses"].append({"name": "Sharing", "task_templates": [{"title": "Share", "kind": "custom"}]})
    assert admin_key.put("learning_flow", document).status_code == 200
    with django_assert_max_num_queries(few):
        assert len(admin_key.get("learning_flow", {"version": 1}).json()["learning_statuses"]) == 3


def test_round_trip_keeps_ranks_that_are_not_0_to_n(admin_key, acme, document):
    # Statuses added on the settings page get ranks after every other status.
    IncidentStatus.objects.filter(org=acme, name="Reviewing").update(rank=40)
    TaskTemplate.objects.filter(org=acme, title="Review follow-ups").update(rank=17)
    before = snapshot(acme)
    document = admin_key.get("learning_flow", {"version": 1}).json()

    assert admin_key.put("learning_flow", document).status_code == 200
    assert snapshot(acme) == before


# --- Editing -------------------------------------------------------------------------------------


def test_edits_keep_ids_and_apply_in_list_order(admin_key, acme, document):
    reporter = str(role(acme, RoleKind.REPORTER).public_id)
    minor = Severity.objects.get(org=acme, name="Minor")
    documenting, reviewing = copy.deepcopy(document["learning_statuses"])
    kept_ids = [t["id"] for t in documenting["task_templates"]]
    documenting["name"] = "Writing it up"
    documenting["description"] = "Capture what happened."
    create_pm, review_timeline, update_ts, follow_ups = documenting["task_templates"]
    update_ts.update(title="Fix the timestamps", required=False, default_assignee_role_id=None)
    documenting["task_templates"] = [
        follow_ups,
        create_pm,
        {"title": "Assign a comms lead", "kind": "assign_role", "target_role_id": reporter,
         "instructions": "  Someone owns the customer update.  "},
        update_ts,
    ]  # review_timeline is dropped
    reviewing["task_templates"].append(review_timeline)  # moved to another status
    new_status = {"name": "Sharing", "task_templates": [{"title": "Present at the weekly review", "kind": "custom"}]}
    body = {
        "learning_statuses": [documenting, new_status, reviewing],
        "lifecycle_rules": {"auto_enter_min_severity_id": str(minor.public_id), "otherwise": "never"},
    }

    response = admin_key.put("learning_flow", body)

    assert response.status_code == 200, response.content
    result = response.json()
    assert result == admin_key.get("learning_flow", {"version": 1}).json()
    assert [s["name"] for s in result["learning_statuses"]] == ["Writing it up", "Sharing", "Reviewing"]
    assert [s["id"] for s in result["learning_statuses"]][::2] == [documenting["id"], reviewing["id"]]
    assert result["learning_statuses"][0]["description"] == "Capture what happened."
    written = result["learning_statuses"][0]["task_templates"]
    assert [t["title"] for t in written] == [
        "Create follow-ups", "Create the post-mortem", "Assign a comms lead", "Fix the timestamps"]
    assert [t["id"] for t in written][:2] == [kept_ids[3], kept_ids[0]]
    assert written[3]["id"] == kept_ids[2]
    assert written[3]["required"] is False and written[3]["default_assignee_role_id"] is None
    new = written[2]
    assert new["kind"] == "assign_role" and new["target_role_id"] == reporter
    assert new["instructions"] == "Someone owns the customer update."
    # Omitted, the default assignee is the Incident Lead, as on the settings page.
    assert new["default_assignee_role_id"] == str(role(acme, RoleKind.LEAD).public_id)
    assert result["learning_statuses"][2]["task_templates"][-1]["id"] == kept_ids[1]
    sharing = IncidentStatus.objects.get(org=acme, name="Sharing")
    assert sharing.category == StatusCategory.LEARNING
    assert result["lifecycle_rules"] == {"auto_enter_min_severity_id": str(minor.public_id), "otherwise": "never"}


def test_two_statuses_can_swap_names(admin_key, acme, document):
    documenting, reviewing = document["learning_statuses"]
    documenting["name"], reviewing["name"] = "Reviewing", "Documenting"
    documenting["task_templates"], reviewing["task_templates"] = [], []

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 200, response.content
    assert IncidentStatus.objects.get(public_id=documenting["id"]).name == "Reviewing"
    assert IncidentStatus.objects.get(public_id=reviewing["id"]).name == "Documenting"
    assert not TaskTemplate.objects.filter(org=acme).exists()


def test_reordering_statuses_changes_which_comes_first(admin_key, acme, document):
    document["learning_statuses"].reverse()
    assert admin_key.put("learning_flow", document).status_code == 200
    # The order is the default flow's (version 1 is the default flow).
    assert [s.name for s in flow_steps(default_flow(org=acme).pk)] == ["Reviewing", "Documenting"]


def test_an_unused_status_can_be_removed_and_a_new_one_can_take_its_name(admin_key, acme, document):
    reviewing = document["learning_statuses"].pop()
    document["learning_statuses"].append({"name": "Reviewing", "description": "Fresh", "task_templates": []})

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 200, response.content
    [new] = [s for s in response.json()["learning_statuses"] if s["name"] == "Reviewing"]
    assert new["id"] != reviewing["id"]
    assert not IncidentStatus.objects.filter(public_id=reviewing["id"]).exists()
    assert not TaskTemplate.objects.filter(org=acme, status__name="Reviewing").exists()


def test_removing_a_status_in_use_is_refused_naming_it(admin_key, acme, document, in_documenting):
    before = snapshot(acme)
    document["learning_statuses"] = document["learning_statuses"][1:]

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["code"] == "in_use" and error["source"] == {"field": "learning_statuses"}
    assert "Documenting" in error["message"]
    assert snapshot(acme) == before


def test_in_flight_incidents_keep_their_tasks(admin_key, editor, acme, document, in_documenting, commit):
    before = list(LearningTask.objects.filter(incident=in_documenting).order_by("pk").values())
    documenting, reviewing = document["learning_statuses"]
    documenting["task_templates"] = [dict(documenting["task_templates"][0], title="Write it all down")]
    reviewing["task_templates"] = [{"title": "Tell the customers", "kind": "custom", "required": True}]

    assert admin_key.put("learning_flow", document).status_code == 200

    assert list(LearningTask.objects.filter(incident=in_documenting).order_by("pk").values()) == [
        dict(task, template_id=None) if task["title"] != "Create the post-mortem" else task for task in before
    ]
    # Its next status is made from the configuration of the moment it gets there.
    for task in tasks_of(in_documenting, "Documenting"):
        commit(editor.post, f"learning_tasks/{task.public_id}/actions/complete")
    assert Incident.objects.get(pk=in_documenting.pk).status.name == "Reviewing"
    assert [t.title for t in tasks_of(in_documenting, "Reviewing")] == ["Tell the customers"]


# --- Refusals ------------------------------------------------------------------------------------


def test_every_problem_comes_back_at_once_and_nothing_is_written(admin_key, acme, globex, document):
    before = snapshot(acme)
    documenting, reviewing = document["learning_statuses"]
    closed = IncidentStatus.objects.get(org=acme, name="Closed")
    theirs = IncidentRole.objects.filter(org=globex).first()
    documenting["name"] = "   "
    documenting["task_templates"][1]["kind"] = "write_haiku"
    documenting["task_templates"][2]["default_assignee_role_id"] = str(theirs.public_id)
    documenting["task_templates"][3]["required"] = "yes"
    reviewing["task_templates"][0] = {"title": "Assign comms", "kind": "assign_role"}
    reviewing["task_templates"][1]["target_role_id"] = str(role(acme, RoleKind.LEAD).public_id)
    reviewing["task_templates"][2]["id"] = documenting["task_templates"][0]["id"]  # listed twice
    reviewing["task_templates"][3]["colour"] = "blue"
    document["learning_statuses"] += [
        {"name": "closed", "task_templates": []},
        {"id": str(closed.public_id), "name": "Archive", "task_templates": []},
        {"id": str(uuid.uuid4()), "name": "Ghost", "task_templates": "none"},
        {"name": "x" * 61, "task_templates": [{"title": "", "kind": "custom"}]},
    ]
    document["lifecycle_rules"] = {"auto_enter_min_severity_id": "INC-1", "otherwise": "sometimes"}
    document["extra"] = True

    response = admin_key.put("learning_flow", document)

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "validation_error"
    assert error_fields(response) == [
        "extra",
        "learning_statuses[0].name",
        "learning_statuses[0].task_templates[1].kind",
        "learning_statuses[0].task_templates[2].default_assignee_role_id",
        "learning_statuses[0].task_templates[3].required",
        "learning_statuses[1].task_templates[0].target_role_id",
        "learning_statuses[1].task_templates[1].target_role_id",
        "learning_statuses[1].task_templates[2].id",
        "learning_statuses[1].task_templates[3].colour",
        "learning_statuses[2].name",
        "learning_statuses[3].id",
        "learning_statuses[4].id",
        "learning_statuses[4].task_templates",
        "learning_statuses[5].name",
        "learning_statuses[5].task_templates[0].title",
        "lifecycle_rules.auto_enter_min_severity_id",
        "lifecycle_rules.otherwise",
    ]
    codes = {e["source"]["field"]: e["code"] for e in body["errors"]}
    assert codes["extra"] == "unknown_field"
    assert codes["learning_statuses[0].name"] == "blank"
    assert codes["learning_statuses[0].task_templates[1].kind"] == "invalid_choice"
    assert codes["learning_statuses[0].task_templates[2].default_assignee_role_id"] == "not_found"
    assert codes["learning_statuses[1].task_templates[0].target_role_id"] == "required"
    assert codes["learning_statuses[1].task_templates[2].id"] == "duplicate"
    assert codes["learning_statuses[2].name"] == "duplicate"
    assert codes["learning_statuses[5].name"] == "max_length"
    assert snapshot(acme) == before


@pytest.mark.parametrize("body, fields", [
    ({}, ["learning_statuses", "lifecycle_rules"]),
    ([], [None]),
    ({"learning_statuses": {}, "lifecycle_rules": []}, ["learning_statuses", "lifecycle_rules"]),
    ({"learning_statuses": [7], "lifecycle_rules": {"otherwise": "ask"}}, ["learning_statuses[0]"]),
    ({"learning_statuses": [{"name": "A\x00", "task_templates": []}], "lifecycle_rules": {"otherwise": "ask"}},
     ["learning_statuses[0].name"]),
    ({"learning_statuses": [{"name": "A\ud800", "task_templates": []}], "lifecycle_rules": {"otherwise": "ask"}},
     ["learning_statuses[0].name"]),
    ({"learning_statuses": [{"name": "A", "task_templates": [], "id": 3}], "lifecycle_rules": {"otherwise": "ask"}},
     ["learning_statuses[0].id"]),
])
def test_malformed_documents_are_422_with_paths(admin_key, acme, body, fields):
    before = snapshot(acme)
    response = admin_key.put("learning_flow", body)
    assert response.status_code == 422
    assert error_fields(response)[: len(fields)] == fields
    assert snapshot(acme) == before


def test_malformed_json_is_400(admin_key):
    response = admin_key.put("learning_flow", raw='{"learning_statuses": [')
    assert response.status_code == 400


def test_only_manage_settings_may_replace_it(editor, reader, document, acme):
    before = snapshot(acme)
    for client in (editor, reader):
        response = client.put("learning_flow", document)
        assert response.status_code == 403
        assert response.json()["type"] == "authorization_error"
    assert snapshot(acme) == before


def test_another_orgs_ids_are_unknown(stranger, document, acme, globex):
    before = snapshot(acme)
    response = stranger.put("learning_flow", document)  # acme's ids, sent with globex's key
    assert response.status_code == 422
    assert {e["code"] for e in response.json()["errors"]} >= {"not_found"}
    assert snapshot(acme) == before


def test_wrong_methods_are_405(admin_key):
    assert admin_key.post("learning_flow", {}).status_code == 405
    assert admin_key.delete("learning_flow").status_code == 405


def test_the_service_refuses_with_every_error_too(acme):
    with pytest.raises(LearningFlowDocumentInvalid) as refused:
        learning_flow_replace(org=acme, document={"learning_statuses": [{"name": ""}], "lifecycle_rules": {}})
    assert [e.field for e in refused.value.errors] == [
        "learning_statuses[0].task_templates", "learning_statuses[0].name", "lifecycle_rules.otherwise"]


def test_an_org_without_learning_statuses_has_an_empty_flow(admin_key, acme, document):
    document["learning_statuses"] = []
    assert admin_key.put("learning_flow", document).status_code == 200
    assert admin_key.get("learning_flow", {"version": 1}).json()["learning_statuses"] == []
    assert not TaskTemplate.objects.filter(org=acme).exists()
