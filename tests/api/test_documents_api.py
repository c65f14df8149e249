"""The documents API: an incident's post-mortem and its follow-ups."""

from __future__ import annotations

import pytest

from incidentio.incidents.models import EventKind, FollowUp, Postmortem, TimelineEvent
from incidentio.incidents.services.documents import POSTMORTEM_TEMPLATE
from orgs.models import Membership
from tests.api.conftest import assert_matches_schema, error_fields, errors_of

# --- Post-mortems -------------------------------------------------------------------------


def test_create_get_update_and_share_a_postmortem(editor, reader, declare):
    incident = declare()
    base = f"/api/v2/incidents/{incident.public_id}/postmortem"
    missing = reader.get(base)
    assert missing.status_code == 404
    assert_matches_schema(missing)

    created = editor.post(base, {})
    assert created.status_code == 201, created.content
    assert_matches_schema(created)
    body = created.json()["postmortem"]
    assert body["content"] == POSTMORTEM_TEMPLATE
    assert body["status"] == "draft" and body["shared"] is False and body["shared_at"] is None
    assert body["incident_id"] == str(incident.public_id)

    fetched = reader.get(f"/api/v2/incidents/{incident.reference}/postmortem")
    assert fetched.status_code == 200
    assert fetched.json()["postmortem"]["id"] == body["id"]

    updated = editor.post(f"{base}/actions/update", {"content": "## Summary\n\nDNS."})
    assert updated.status_code == 200, updated.content
    assert_matches_schema(updated)
    assert updated.json()["postmortem"]["content"] == "## Summary\n\nDNS."

    completed = editor.post(f"{base}/actions/set_status", {"status": "completed"})
    assert completed.status_code == 200
    assert completed.json()["postmortem"]["status"] == "completed"

    shared = editor.post(f"{base}/actions/share")
    assert shared.status_code == 200
    assert_matches_schema(shared)
    assert shared.json()["postmortem"]["shared"] is True
    shared_at = shared.json()["postmortem"]["shared_at"]
    again = editor.post(f"{base}/actions/share")
    assert again.json()["postmortem"]["shared_at"] == shared_at

    kinds = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds.count(EventKind.POSTMORTEM_CREATED) == 1
    assert kinds.count(EventKind.POSTMORTEM_SHARED) == 1
    assert kinds.count(EventKind.POSTMORTEM_STATUS_CHANGED) == 1


def test_create_with_content(editor, declare):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/postmortem", {"content": "Short and sweet."})
    assert response.status_code == 201
    assert response.json()["postmortem"]["content"] == "Short and sweet."


def test_a_second_postmortem_is_refused(editor, declare):
    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/postmortem"
    assert editor.post(url, {}).status_code == 201
    response = editor.post(url, {"content": "Another"})
    assert response.status_code == 422
    assert "already has a post-mortem" in errors_of(response)[0]["message"]
    assert Postmortem.objects.filter(incident=incident).count() == 1


@pytest.mark.parametrize("action, payload, field", [
    ("set_status", {"status": "published"}, "status"),
    ("set_status", {}, "status"),
    ("update", {}, "content"),
    ("update", {"content": 5 * [1]}, "content"),
    ("update", {"content": "x" * 200_001}, "content"),
])
def test_postmortem_validation_errors_name_the_field(editor, declare, action, payload, field):
    incident = declare()
    editor.post(f"/api/v2/incidents/{incident.public_id}/postmortem", {})
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/postmortem/actions/{action}", payload)
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]
    assert_matches_schema(response)


@pytest.mark.parametrize("action", ["update", "set_status", "share"])
def test_postmortem_actions_before_one_exists_are_404(editor, declare, action):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/postmortem/actions/{action}",
                           {"content": "x", "status": "draft"})
    assert response.status_code == 404


@pytest.mark.parametrize("action", ["", "/actions/update", "/actions/set_status", "/actions/share"])
def test_a_viewer_key_cannot_write_postmortems(reader, declare, action):
    incident = declare()
    response = reader.post(f"/api/v2/incidents/{incident.public_id}/postmortem{action}",
                           {"content": "x", "status": "draft"})
    assert response.status_code == 403
    assert not Postmortem.objects.exists()


# --- Follow-ups ------------------------------------------------------------------------------------


def test_create_list_and_show_follow_ups(editor, reader, declare, acme, responder):
    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/follow_ups"
    response = editor.post(url, {"title": "Add a DNS alert", "description": "Page on NXDOMAIN spikes.",
                                 "assignee_id": responder.email, "priority": "high"})
    assert response.status_code == 201, response.content
    assert_matches_schema(response)
    body = response.json()["follow_up"]
    member_id = str(Membership.objects.get(org=acme, user=responder).public_id)
    assert body["assignee"] == {"id": member_id, "name": responder.display_name, "email": responder.email}
    assert body["status"] == "outstanding" and body["priority"] == "high"
    assert body["incident_id"] == str(incident.public_id)
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.FOLLOW_UP_CREATED).count() == 1

    editor.post(url, {"title": "Second"})
    editor.post(url, {"title": "Third"})
    first = reader.get(url, {"page_size": 2})
    assert first.status_code == 200
    assert_matches_schema(first)
    assert [f["title"] for f in first.json()["follow_ups"]] == ["Add a DNS alert", "Second"]
    rest = reader.get(url, {"page_size": 2, "after": first.json()["pagination_meta"]["after"]}).json()
    assert [f["title"] for f in rest["follow_ups"]] == ["Third"]
    assert rest["pagination_meta"] == {"after": None, "page_size": 2}

    shown = reader.get(f"/api/v2/follow_ups/{body['id']}")
    assert shown.status_code == 200
    assert_matches_schema(shown)
    assert shown.json()["follow_up"] == body


def test_follow_up_create_is_idempotent_with_a_key(editor, declare):
    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/follow_ups"
    first = editor.post(url, {"title": "Rotate keys", "idempotency_key": "fu-1"})
    assert first.status_code == 201
    again = editor.post(url, {"title": "Rotate keys", "idempotency_key": "fu-1"})
    assert again.status_code == 200
    assert_matches_schema(again)
    assert again.json()["follow_up"]["id"] == first.json()["follow_up"]["id"]
    assert FollowUp.objects.filter(incident=incident).count() == 1
    # Without a key, each create creates.
    editor.post(url, {"title": "Rotate keys"})
    editor.post(url, {"title": "Rotate keys"})
    assert FollowUp.objects.filter(incident=incident).count() == 3


@pytest.mark.parametrize("payload, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "ok", "priority": "whenever"}, "priority"),
    ({"title": "ok", "assignee_id": "nobody@nowhere.test"}, "assignee_id"),
    ({"title": "ok", "assignee_id": 7}, "assignee_id"),
    ({"title": "ok", "idempotency_key": ""}, "idempotency_key"),
])
def test_follow_up_validation_errors_name_the_field(editor, declare, payload, field):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/follow_ups", payload)
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]
    assert_matches_schema(response)


def test_a_member_of_another_org_cannot_be_assigned(editor, declare, outsider):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/follow_ups",
                           {"title": "ok", "assignee_id": outsider.email})
    assert response.status_code == 422
    assert error_fields(response) == ["assignee_id"]


def test_update_complete_and_not_doing(editor, declare, responder):
    incident = declare()
    created = editor.post(f"/api/v2/incidents/{incident.public_id}/follow_ups",
                          {"title": "Old", "assignee_id": responder.email}).json()["follow_up"]
    url = f"/api/v2/follow_ups/{created['id']}"

    updated = editor.post(f"{url}/actions/update", {"title": "New", "assignee_id": None, "priority": "urgent"})
    assert updated.status_code == 200, updated.content
    assert_matches_schema(updated)
    body = updated.json()["follow_up"]
    assert (body["title"], body["assignee"], body["priority"], body["description"]) == ("New", None, "urgent", "")

    completed = editor.post(f"{url}/actions/complete")
    assert completed.status_code == 200
    assert_matches_schema(completed)
    assert completed.json()["follow_up"]["status"] == "completed"
    assert completed.json()["follow_up"]["completed_at"]

    skipped = editor.post(f"{url}/actions/not_doing", {"reason": "Superseded by the DNS migration."})
    assert skipped.status_code == 200
    assert skipped.json()["follow_up"]["status"] == "not_doing"
    assert skipped.json()["follow_up"]["not_doing_reason"] == "Superseded by the DNS migration."


def test_follow_up_update_errors(editor, declare):
    incident = declare()
    created = editor.post(f"/api/v2/incidents/{incident.public_id}/follow_ups", {"title": "x"}).json()["follow_up"]
    response = editor.post(f"/api/v2/follow_ups/{created['id']}/actions/update", {"title": "  "})
    assert response.status_code == 422
    assert error_fields(response) == ["title"]
    response = editor.post(f"/api/v2/follow_ups/{created['id']}/actions/update", {"priority": None})
    assert response.status_code == 422
    assert error_fields(response) == ["priority"]


def test_follow_up_list_query_count_does_not_grow(reader, editor, declare, responder, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/follow_ups"
    for n in range(30):
        editor.post(url, {"title": f"Follow-up {n}", "assignee_id": responder.email})
    reader.get(url, {"page_size": 1})
    with CaptureQueriesContext(connection) as small:
        reader.get(url, {"page_size": 2})
    with django_assert_max_num_queries(len(small)):
        assert len(reader.get(url, {"page_size": 30}).json()["follow_ups"]) == 30


@pytest.mark.parametrize("follow_up_id", ["nope", "6f1c1f8e-0000-4000-8000-000000000000"])
def test_unknown_follow_ups_are_404(reader, editor, acme, follow_up_id):
    assert reader.get(f"/api/v2/follow_ups/{follow_up_id}").status_code == 404
    for action in ("update", "complete", "not_doing"):
        assert editor.post(f"/api/v2/follow_ups/{follow_up_id}/actions/{action}", {}).status_code == 404
