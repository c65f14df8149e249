"""Contract of ``/api/v2/learning_tasks``: the list with its filters and keyset
pagination, one task, and the actions (complete, not doing, reopen, assign).

The actions call the services the dashboard and Slack call; these tests assert
what an integrator sees (status codes, the task JSON, the error shape) and
what the product records (task state, the timeline with the API key as actor,
the incident advancing once its status is finished).
"""

from __future__ import annotations

import pytest

from incidentio.api.pagination import encode_cursor
from incidentio.incidents.models import ActorKind, EventKind, Incident, IncidentStatus, LearningFlowState, TimelineEvent
from learning.models import LearningTask, TaskState
from orgs.models import Membership
from tests.api_learning.conftest import declare_and_close, error_fields, tasks_of, without_request_id

pytestmark = pytest.mark.django_db

TASK_FIELDS = {
    "id", "incident", "learning_status", "title", "instructions", "kind", "required", "state",
    "not_doing_reason", "assignee", "assigned_manually", "completed_automatically", "addressed_at", "created_at",
    "snoozed_until",
    "due_at", "overdue",
}


def member_id(org, user) -> str:
    return str(Membership.objects.get(org=org, user=user).public_id)


def fresh(task: LearningTask) -> LearningTask:
    return LearningTask.objects.get(pk=task.pk)


# --- The list ----------------------------------------------------------------------------------


def test_list_renders_every_task_of_the_org_newest_first(editor, in_documenting, acme, responder):
    response = editor.get("learning_tasks")

    assert response.status_code == 200
    body = response.json()
    assert body["pagination_meta"] == {"after": None, "page_size": 25}
    tasks = tasks_of(in_documenting)
    assert [t["id"] for t in body["learning_tasks"]] == [str(t.public_id) for t in sorted(tasks, key=lambda t: -t.pk)]
    first = next(t for t in body["learning_tasks"] if t["kind"] == "create_postmortem")
    assert set(first) == TASK_FIELDS
    documenting = IncidentStatus.objects.get(org=acme, name="Documenting")
    assert first["incident"] == {"id": str(in_documenting.public_id), "reference": "INC-1", "name": "Checkout is down"}
    assert first["learning_status"] == {"id": str(documenting.public_id), "name": "Documenting"}
    assert first["title"] == "Create the post-mortem"
    assert first["instructions"].startswith("Start the post-mortem")
    assert first["required"] is True
    assert first["state"] == "outstanding"
    assert first["not_doing_reason"] == ""
    assert first["assignee"] == {"id": member_id(acme, responder), "name": responder.display_name,
                                 "email": "responder@acme.test"}
    assert first["assigned_manually"] is False
    assert first["completed_automatically"] is False
    assert first["addressed_at"] is None
    assert first["created_at"]


def test_list_never_shows_another_orgs_tasks(editor, stranger, in_documenting):
    assert editor.get("learning_tasks").json()["learning_tasks"]
    assert stranger.get("learning_tasks").json()["learning_tasks"] == []


def test_list_filters_by_incident_assignee_state_and_status(editor, acme, owner, responder, viewer,
                                                            in_documenting, commit):
    other = declare_and_close(acme, owner, lead=viewer, name="Search is slow", commit=commit)
    done = tasks_of(other)[0]
    editor.post(f"learning_tasks/{done.public_id}/actions/complete")

    def ids(**params):
        response = editor.get("learning_tasks", params)
        assert response.status_code == 200, response.content
        return {t["id"] for t in response.json()["learning_tasks"]}

    expected_other = {str(t.public_id) for t in tasks_of(other)}
    assert ids(incident_id=str(other.public_id)) == expected_other
    for reference in ("INC-2", "inc2", "2"):  # incidentio/incidents/references.py, as everywhere
        assert ids(incident_id=reference) == expected_other
    assert ids(assignee_id=member_id(acme, viewer)) == expected_other
    assert ids(assignee_id="VIEWER@acme.test") == expected_other
    assert ids(state="completed") == {str(done.public_id)}
    assert ids(state="outstanding", incident_id=str(other.public_id)) == expected_other - {str(done.public_id)}
    documenting = IncidentStatus.objects.get(org=acme, name="Documenting")
    assert len(ids(learning_status_id=str(documenting.public_id))) == 8


def test_unknown_or_malformed_filter_values_are_422_naming_each_parameter(editor, acme, outsider, globex,
                                                                           in_documenting):
    closed = IncidentStatus.objects.get(org=acme, name="Closed")
    response = editor.get("learning_tasks", {
        "incident_id": "not-an-id",
        "assignee_id": member_id(globex, outsider),  # a member of another org is nobody here
        "learning_status_id": str(closed.public_id),  # not a learning status
        "state": "done",
    })

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "validation_error" and body["status"] == 422 and body["request_id"]
    assert sorted(error_fields(response)) == ["assignee_id", "incident_id", "learning_status_id", "state"]
    codes = {e["source"]["field"]: e["code"] for e in body["errors"]}
    assert codes == {"incident_id": "not_found", "assignee_id": "not_found", "learning_status_id": "not_found",
                     "state": "invalid_choice"}


def test_another_orgs_incident_id_is_as_unknown_as_a_missing_one(editor, stranger, in_documenting):
    theirs = stranger.get("learning_tasks", {"incident_id": str(in_documenting.public_id)})
    missing = stranger.get("learning_tasks", {"incident_id": "00000000-0000-4000-8000-000000000000"})

    assert theirs.status_code == missing.status_code == 422
    assert without_request_id(theirs) == without_request_id(missing)


@pytest.mark.parametrize("page_size", ["0", "251", "1000", "ten"])
def test_page_size_out_of_range_is_422(editor, page_size):
    response = editor.get("learning_tasks", {"page_size": page_size})
    assert response.status_code == 422
    assert error_fields(response) == ["page_size"]


# Named ids: the signed cursor carries the time it was made, and pytest-xdist
# refuses to run when its workers collect tests under different names.
@pytest.mark.parametrize("cursor", ["garbage", encode_cursor("incidents", 10)], ids=["garbage", "incidents-cursor"])
def test_a_bad_or_foreign_cursor_is_422(editor, cursor):
    response = editor.get("learning_tasks", {"after": cursor})
    assert response.status_code == 422
    assert error_fields(response) == ["after"]


def test_walking_the_pages_returns_each_task_once_in_order_while_tasks_are_added(editor, acme, owner, commit):
    for n in range(5):
        declare_and_close(acme, owner, name=f"Incident {n}", commit=commit)  # 4 tasks each
    expected = [str(t.public_id) for t in LearningTask.objects.filter(org=acme).order_by("-pk")]
    seen, after = [], None
    while True:
        response = editor.get("learning_tasks", {"page_size": 3, **({"after": after} if after else {})})
        assert response.status_code == 200
        body = response.json()
        seen += [t["id"] for t in body["learning_tasks"]]
        after = body["pagination_meta"]["after"]
        if len(seen) == 6:
            declare_and_close(acme, owner, name="Declared mid-walk", commit=commit)  # newer: not in this walk
        if after is None:
            break
    assert seen == expected


def test_list_query_count_does_not_grow_with_the_page(editor, acme, owner, commit, django_assert_max_num_queries):
    for n in range(8):
        declare_and_close(acme, owner, name=f"Incident {n}", commit=commit)
    # Key lookup, rate-limit counter (the cache may be the database), the page.
    # 16: the rate-limit counter costs a few queries with the database cache (none with Redis).
    with django_assert_max_num_queries(16) as small:
        assert len(editor.get("learning_tasks", {"page_size": 2}).json()["learning_tasks"]) == 2
    few = len(small.captured_queries)
    with django_assert_max_num_queries(few):
        assert len(editor.get("learning_tasks", {"page_size": 30}).json()["learning_tasks"]) == 30


def test_without_a_key_it_is_401(anonymous):
    response = anonymous.get("learning_tasks")
    assert response.status_code == 401
    assert response.json()["type"] == "authentication_error"


# --- One task ----------------------------------------------------------------------------------


def test_get_one_task(reader, in_documenting):
    task = tasks_of(in_documenting)[1]
    response = reader.get(f"learning_tasks/{task.public_id}")
    assert response.status_code == 200
    assert response.json()["learning_task"]["id"] == str(task.public_id)
    assert set(response.json()["learning_task"]) == TASK_FIELDS


TASK_PATHS = ["", "/actions/complete", "/actions/not_doing", "/actions/reopen", "/actions/assign"]


@pytest.mark.parametrize("suffix", TASK_PATHS)
def test_another_orgs_task_is_a_404_indistinguishable_from_a_missing_one(stranger, in_documenting, suffix):
    task = tasks_of(in_documenting)[0]
    send = stranger.get if suffix == "" else stranger.post
    theirs = send(f"learning_tasks/{task.public_id}{suffix}")
    missing = send(f"learning_tasks/00000000-0000-4000-8000-000000000000{suffix}")
    malformed = send(f"learning_tasks/INC-1{suffix}")

    assert theirs.status_code == missing.status_code == malformed.status_code == 404
    assert without_request_id(theirs) == without_request_id(missing) == without_request_id(malformed)
    assert theirs.json()["type"] == "not_found"
    assert fresh(task).state == TaskState.OUTSTANDING


@pytest.mark.parametrize("suffix", TASK_PATHS[1:])
def test_a_viewer_key_cannot_act_on_tasks(reader, in_documenting, suffix):
    task = tasks_of(in_documenting)[0]
    response = reader.post(f"learning_tasks/{task.public_id}{suffix}", {"assignee_id": None})
    assert response.status_code == 403
    assert response.json()["type"] == "authorization_error"
    assert fresh(task).state == TaskState.OUTSTANDING and not fresh(task).assigned_manually


@pytest.mark.parametrize("suffix", TASK_PATHS[1:])
def test_actions_are_post_only(editor, in_documenting, suffix):
    task = tasks_of(in_documenting)[0]
    response = editor.get(f"learning_tasks/{task.public_id}{suffix}")
    assert response.status_code == 405
    assert response.json()["type"] == "method_not_allowed"


def test_a_task_is_read_only(editor, in_documenting):
    task = tasks_of(in_documenting)[0]
    assert editor.put(f"learning_tasks/{task.public_id}", {}).status_code == 405
    assert editor.delete(f"learning_tasks/{task.public_id}").status_code == 405
    assert editor.post("learning_tasks", {}).status_code == 405


# --- Actions -----------------------------------------------------------------------------------


def test_complete_records_the_api_key_on_the_timeline_and_twice_is_once(editor, in_documenting):
    task = tasks_of(in_documenting)[1]

    first = editor.post(f"learning_tasks/{task.public_id}/actions/complete")
    again = editor.post(f"learning_tasks/{task.public_id}/actions/complete")

    assert first.status_code == again.status_code == 200
    body = first.json()["learning_task"]
    assert body["state"] == "completed" and body["addressed_at"] and body["completed_automatically"] is False
    [event] = TimelineEvent.objects.filter(incident=in_documenting, kind=EventKind.TASK_COMPLETED)
    assert event.actor_kind == ActorKind.API_KEY
    assert event.data["task_id"] == str(task.public_id)


def test_addressing_the_last_task_advances_the_incident_after_commit(editor, in_documenting, commit):
    documenting = tasks_of(in_documenting, "Documenting")
    for task in documenting[:-1]:
        assert commit(editor.post, f"learning_tasks/{task.public_id}/actions/complete").status_code == 200
    assert Incident.objects.get(pk=in_documenting.pk).status.name == "Documenting"

    response = commit(editor.post, f"learning_tasks/{documenting[-1].public_id}/actions/not_doing",
                      {"reason": "Nothing to add"})

    assert response.status_code == 200
    incident = Incident.objects.select_related("status").get(pk=in_documenting.pk)
    assert incident.status.name == "Reviewing"
    assert incident.learning_flow == LearningFlowState.RUNNING
    reviewing = editor.get("learning_tasks", {"incident_id": "INC-1", "state": "outstanding"}).json()
    assert {t["learning_status"]["name"] for t in reviewing["learning_tasks"]} == {"Reviewing"}
    assert len(reviewing["learning_tasks"]) == 4


def test_not_doing_keeps_the_reason(editor, in_documenting):
    task = tasks_of(in_documenting)[2]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", {"reason": "  Covered in chat  "})
    assert response.status_code == 200
    body = response.json()["learning_task"]
    assert body["state"] == "not_doing" and body["not_doing_reason"] == "Covered in chat"


def test_not_doing_without_a_body_has_no_reason(editor, in_documenting):
    task = tasks_of(in_documenting)[2]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", raw="")
    assert response.status_code == 200
    assert response.json()["learning_task"]["not_doing_reason"] == ""


@pytest.mark.parametrize("body, field", [
    ({"reason": "x" * 5_001}, "reason"),
    ({"reason": ["a list"]}, "reason"),
    ({"reason": "nul \x00 byte"}, "reason"),
    (["reason"], None),
])
def test_not_doing_with_a_bad_reason_is_422(editor, in_documenting, body, field):
    task = tasks_of(in_documenting)[2]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", body)
    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert fresh(task).state == TaskState.OUTSTANDING


def test_malformed_json_is_400(editor, in_documenting):
    task = tasks_of(in_documenting)[2]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", raw="{reason:")
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_request_error"


def test_reopen(editor, in_documenting):
    task = tasks_of(in_documenting)[1]
    editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", {"reason": "later"})

    response = editor.post(f"learning_tasks/{task.public_id}/actions/reopen")

    assert response.status_code == 200
    body = response.json()["learning_task"]
    assert body["state"] == "outstanding" and body["not_doing_reason"] == "" and body["addressed_at"] is None
    assert TimelineEvent.objects.filter(incident=in_documenting, kind=EventKind.TASK_REOPENED).count() == 1


def test_a_task_of_a_status_the_incident_left_cannot_change(editor, in_documenting, commit):
    for task in tasks_of(in_documenting, "Documenting"):
        commit(editor.post, f"learning_tasks/{task.public_id}/actions/complete")
    old = tasks_of(in_documenting, "Documenting")[0]

    response = editor.post(f"learning_tasks/{old.public_id}/actions/reopen")

    assert response.status_code == 422
    assert "already left" in response.json()["errors"][0]["message"]
    assert fresh(old).state == TaskState.COMPLETED


def test_assign_by_user_id_or_email_and_unassign(editor, acme, viewer, owner, in_documenting):
    task = tasks_of(in_documenting)[0]
    url = f"learning_tasks/{task.public_id}/actions/assign"

    by_id = editor.post(url, {"assignee_id": member_id(acme, viewer)})
    assert by_id.status_code == 200
    body = by_id.json()["learning_task"]
    assert body["assignee"]["id"] == member_id(acme, viewer) and body["assigned_manually"] is True

    by_email = editor.post(url, {"assignee_id": "owner@acme.test"})
    assert by_email.json()["learning_task"]["assignee"]["email"] == "owner@acme.test"

    unassigned = editor.post(url, {"assignee_id": None})
    assert unassigned.status_code == 200
    assert unassigned.json()["learning_task"]["assignee"] is None
    task = fresh(task)
    assert task.assignee is None and task.assigned_manually
    assert TimelineEvent.objects.filter(incident=in_documenting, kind=EventKind.TASK_ASSIGNED).count() == 3


@pytest.mark.parametrize("body, field", [
    ({}, "assignee_id"),  # required: null unassigns, absence is a mistake
    ({"assignee_id": "outsider@globex.test"}, "assignee_id"),
    ({"assignee_id": "00000000-0000-4000-8000-000000000000"}, "assignee_id"),
    ({"assignee_id": 7}, "assignee_id"),
])
def test_assign_to_nobody_known_is_422(editor, outsider, in_documenting, body, field):
    task = tasks_of(in_documenting)[0]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/assign", body)
    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert not fresh(task).assigned_manually


def test_an_outsiders_membership_id_is_nobody_here(editor, globex, outsider, in_documenting):
    task = tasks_of(in_documenting)[0]
    response = editor.post(f"learning_tasks/{task.public_id}/actions/assign",
                           {"assignee_id": member_id(globex, outsider)})
    assert response.status_code == 422
    assert error_fields(response) == ["assignee_id"]


def test_an_addressed_task_cannot_be_reassigned(editor, acme, viewer, in_documenting):
    task = tasks_of(in_documenting)[0]
    editor.post(f"learning_tasks/{task.public_id}/actions/complete")
    response = editor.post(f"learning_tasks/{task.public_id}/actions/assign", {"assignee_id": member_id(acme, viewer)})
    assert response.status_code == 422
    assert error_fields(response) == ["assignee_id"]


def test_a_member_who_left_shows_with_a_null_id(editor, acme, responder, in_documenting):
    Membership.objects.filter(org=acme, user=responder).delete()
    task = tasks_of(in_documenting)[0]
    assignee = editor.get(f"learning_tasks/{task.public_id}").json()["learning_task"]["assignee"]
    assert assignee == {"id": None, "name": responder.display_name, "email": responder.email}
