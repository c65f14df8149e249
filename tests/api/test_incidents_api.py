"""The incidents API: list, filters, keyset pagination, get, create, edit, close, timeline.

Every response is also checked against the OpenAPI schema the server serves.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    EventKind,
    Incident,
    IncidentCounter,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    LearningFlowState,
    RoleKind,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole, Membership
from tests.api.conftest import assert_matches_schema, error_fields, errors_of


def status_named(org, name) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def severity_named(org, name) -> Severity:
    return Severity.objects.get(org=org, name=name)


def get_ok(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert_matches_schema(response)
    return response.json()


def numbers(body) -> list[int]:
    return [int(i["reference"].removeprefix("INC-")) for i in body["incidents"]]


# --- Authentication ----------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_without_a_valid_key_are_401_in_the_error_shape(api, acme):
    for client in (api(), api("inc_not-a-real-key")):
        response = client.get("/api/v2/incidents")
        assert response.status_code == 401
        assert errors_of(response)[0]["code"] in ("not_authenticated", "authentication_failed")
        assert response.json()["type"] == "authentication_error"
        assert_matches_schema(response)


# --- Reading -----------------------------------------------------------------------------------


def test_incident_json_has_the_documented_shape(reader, declare, acme, owner, responder):
    incident = declare("Payments failing", summary="Card payments time out.",
                       severity=severity_named(acme, "Major"), lead=responder)
    body = get_ok(reader, f"/api/v2/incidents/{incident.public_id}")["incident"]
    member_ids = {m.user_id: str(m.public_id) for m in Membership.objects.filter(org=acme)}
    assert body["id"] == str(incident.public_id)
    assert body["reference"] == "INC-1"
    assert body["name"] == "Payments failing"
    assert body["summary"] == "Card payments time out."
    assert body["incident_status"] == {
        "id": str(incident.status.public_id), "name": "Investigating", "category": "live",
    }
    assert body["severity"] == {"id": str(incident.severity.public_id), "name": "Major", "rank": 1}
    assert body["learning_flow"] == "not_entered"
    assert body["opt_out_reason"] == ""
    roles = {r["role"]["name"]: r["user"] for r in body["roles"]}
    assert roles["Incident Lead"] == {"id": member_ids[responder.pk], "name": responder.display_name,
                                      "email": responder.email}
    assert roles["Reporter"]["email"] == owner.email
    assert body["created_at"] and body["accepted_at"] and body["resolved_at"] is None
    assert set(body["timestamps"]) == {"reported_at", "accepted_at", "impact_started_at", "identified_at",
                                       "fixed_at", "resolved_at", "closed_at"}
    assert body["permalink"].endswith(f"/acme/incidents/{incident.public_id}/")


def test_an_incident_is_found_by_its_reference(reader, declare):
    declare("First")
    second = declare("Second")
    # The one rule (incidentio/incidents/references.py), as the dashboard and Slack read references.
    for reference in ("INC-2", "inc-2", "inc2", "2", "%20INC-2%20"):
        assert get_ok(reader, f"/api/v2/incidents/{reference}")["incident"]["id"] == str(second.public_id)


@pytest.mark.parametrize("incident_id", ["INC-99", "2", "not-an-id", "6f1c1f8e-0000-4000-8000-000000000000",
                                         "INC-99999999999", "INC-1x", "INC--1", "IN-1"])
def test_an_unknown_or_malformed_incident_id_is_404(reader, declare, incident_id):
    declare()
    response = reader.get(f"/api/v2/incidents/{incident_id}")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"
    assert_matches_schema(response)


def test_list_is_newest_first_with_pagination_meta(reader, declare):
    for n in range(3):
        declare(f"Incident {n}")
    body = get_ok(reader, "/api/v2/incidents")
    assert numbers(body) == [3, 2, 1]
    assert body["pagination_meta"] == {"after": None, "page_size": 25, "total_record_count": 3}


def test_list_pages_with_the_after_cursor(reader, declare):
    for n in range(5):
        declare(f"Incident {n}")
    first = get_ok(reader, "/api/v2/incidents", page_size=2)
    assert numbers(first) == [5, 4]
    second = get_ok(reader, "/api/v2/incidents", page_size=2, after=first["pagination_meta"]["after"])
    assert numbers(second) == [3, 2]
    third = get_ok(reader, "/api/v2/incidents", page_size=2, after=second["pagination_meta"]["after"])
    assert numbers(third) == [1]
    assert third["pagination_meta"]["after"] is None
    assert third["pagination_meta"]["total_record_count"] == 5


@pytest.mark.parametrize("page_size", ["0", "251", "1000", "abc", "-1", "2.5", "1e3"])
def test_a_bad_page_size_is_a_422_naming_it(reader, acme, page_size):
    response = reader.get("/api/v2/incidents", {"page_size": page_size})
    assert response.status_code == 422
    assert error_fields(response) == ["page_size"]
    assert_matches_schema(response)


@pytest.mark.parametrize("cursor", ["forged", "eyJmb28iOjF9:1abc:def", "a" * 500, "%00"])
def test_a_forged_cursor_is_a_422_naming_after(reader, acme, cursor):
    response = reader.get("/api/v2/incidents", {"after": cursor})
    assert response.status_code == 422
    assert error_fields(response) == ["after"]


def test_a_cursor_from_another_list_is_refused(reader, declare, responder):
    incident = declare(lead=responder)  # declared, lead assigned: two events
    for n in range(3):
        declare(f"More {n}")
    timeline_after = get_ok(reader, f"/api/v2/incidents/{incident.public_id}/timeline", page_size=1)[
        "pagination_meta"]["after"]
    response = reader.get("/api/v2/incidents", {"after": timeline_after})
    assert response.status_code == 422
    assert error_fields(response) == ["after"]


# --- Filters --------------------------------------------------------------------------------------


@pytest.fixture
def three_incidents(declare, acme):
    """INC-1 live Minor, INC-2 triage without severity, INC-3 live Critical."""
    declare("Minor live", severity=severity_named(acme, "Minor"))
    declare("In triage", triage=True)
    declare("Critical live", severity=severity_named(acme, "Critical"))


def test_filter_by_status_category_repeated_or_comma_separated(reader, three_incidents):
    assert numbers(get_ok(reader, "/api/v2/incidents?status_category[one_of]=triage")) == [2]
    assert numbers(get_ok(reader, "/api/v2/incidents?status_category[one_of]=triage&status_category[one_of]=live")
                   ) == [3, 2, 1]
    body = get_ok(reader, "/api/v2/incidents?status_category[one_of]=triage,live")
    assert numbers(body) == [3, 2, 1]
    assert numbers(get_ok(reader, "/api/v2/incidents?status_category[one_of]=closed")) == []


def test_filter_by_status_ids(reader, three_incidents, acme):
    triage = status_named(acme, "Triage")
    body = get_ok(reader, f"/api/v2/incidents?status[one_of]={triage.public_id}")
    assert numbers(body) == [2]
    assert body["pagination_meta"]["total_record_count"] == 1


def test_filter_by_severity_at_or_above(reader, three_incidents, acme):
    major = severity_named(acme, "Major")
    assert numbers(get_ok(reader, f"/api/v2/incidents?severity[gte]={major.public_id}")) == [3]
    minor = severity_named(acme, "Minor")
    assert numbers(get_ok(reader, f"/api/v2/incidents?severity[gte]={minor.public_id}")) == [3, 1]


def test_filter_by_created_at(reader, three_incidents, acme):
    Incident.objects.filter(org=acme, number=1).update(reported_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert numbers(get_ok(reader, "/api/v2/incidents", **{"created_at[gte]": since})) == [3, 2]
    assert numbers(get_ok(reader, "/api/v2/incidents", **{"created_at[lte]": since})) == [1]


def test_filter_by_learning_flow(reader, three_incidents, acme):
    Incident.objects.filter(org=acme, number=3).update(learning_flow=LearningFlowState.RUNNING)
    assert numbers(get_ok(reader, "/api/v2/incidents?learning_flow[one_of]=running")) == [3]
    assert numbers(get_ok(reader, "/api/v2/incidents?learning_flow[one_of]=not_entered,opted_out")) == [2, 1]


@pytest.mark.parametrize("query, field", [
    ("status_category[one_of]=burning", "status_category[one_of]"),
    ("status_category[one_of]=live,burning", "status_category[one_of]"),
    ("status[one_of]=not-a-uuid", "status[one_of]"),
    ("status[one_of]=6f1c1f8e-0000-4000-8000-000000000000", "status[one_of]"),
    ("severity[gte]=6f1c1f8e-0000-4000-8000-000000000000", "severity[gte]"),
    ("severity[gte]=high", "severity[gte]"),
    ("created_at[gte]=yesterday", "created_at[gte]"),
    ("created_at[lte]=2024-13-45T00:00:00Z", "created_at[lte]"),
    ("learning_flow[one_of]=maybe", "learning_flow[one_of]"),
])
def test_an_unknown_filter_value_is_a_422_naming_the_filter(reader, acme, query, field):
    response = reader.get(f"/api/v2/incidents?{query}")
    assert response.status_code == 422, response.content
    assert field in error_fields(response)
    assert_matches_schema(response)


def test_another_orgs_status_or_severity_is_an_unknown_filter_value(reader, acme, globex):
    theirs = IncidentStatus.objects.filter(org=globex).first()
    response = reader.get(f"/api/v2/incidents?status[one_of]={theirs.public_id}")
    assert response.status_code == 422
    assert error_fields(response) == ["status[one_of]"]
    theirs = Severity.objects.filter(org=globex).first()
    response = reader.get(f"/api/v2/incidents?severity[gte]={theirs.public_id}")
    assert response.status_code == 422
    assert error_fields(response) == ["severity[gte]"]


# --- Walking every page ----------------------------------------------------------------------------


def _bulk_incidents(org, count: int, *, with_roles: list[tuple] = ()):
    live = IncidentStatus.objects.filter(org=org, category=StatusCategory.LIVE).first()
    severity = Severity.objects.filter(org=org).first()
    now = timezone.now()
    Incident.objects.bulk_create(
        Incident(org=org, number=n, name=f"Incident {n}", status=live, severity=severity,
                 incident_type=org.incident_types.get(is_default=True), reported_at=now - timedelta(minutes=count - n), accepted_at=now)
        for n in range(1, count + 1)
    )
    IncidentCounter.objects.update_or_create(org=org, defaults={"last_number": count})
    incidents = list(Incident.objects.filter(org=org))
    IncidentRoleAssignment.objects.bulk_create(
        IncidentRoleAssignment(incident=incident, role=role, user=user)
        for incident in incidents for role, user in with_roles
    )


def test_walking_1000_incidents_returns_each_once_in_order_while_more_are_declared(reader, acme, owner):
    _bulk_incidents(acme, 1000)
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        params = {"page_size": 100, **({"after": after} if after else {})}
        response = reader.get("/api/v2/incidents", params)
        assert response.status_code == 200
        body = response.json()
        seen += numbers(body)
        pages += 1
        if pages in (2, 5):
            # Newer incidents arrive mid-walk: they are above the cursor and shift nothing.
            for n in range(3):
                incident_declare(org=acme, actor=Actor.for_user(owner), name=f"Declared during the walk {n}")
        after = body["pagination_meta"]["after"]
        if after is None:
            break
    assert seen == list(range(1000, 0, -1))
    assert pages == 10
    assert Incident.objects.filter(org=acme).count() == 1006


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_page_size(
    reader, acme, owner, responder, django_assert_max_num_queries
):
    lead = IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD)
    reporter = IncidentRole.objects.get(org=acme, kind=RoleKind.REPORTER)
    _bulk_incidents(acme, 120, with_roles=[(lead, responder), (reporter, owner)])
    reader.get("/api/v2/incidents", {"page_size": 1})  # the key's last_used_at is written once a minute
    with CaptureQueriesContext(connection) as small:
        body = get_ok(reader, "/api/v2/incidents", page_size=5)
    small_count = len(small)  # now: each request's start clears the log `small` slices
    assert len(body["incidents"]) == 5 and len(body["incidents"][0]["roles"]) == 2
    with django_assert_max_num_queries(small_count):
        body = get_ok(reader, "/api/v2/incidents", page_size=100)
    assert len(body["incidents"]) == 100
    assert all(len(incident["roles"]) == 2 for incident in body["incidents"])
    # And through several filters at once (run once first: a query's first run
    # on a connection also prepares it, incidentio/common/db.py).
    minor = Severity.objects.filter(org=acme).first()
    filtered = f"/api/v2/incidents?page_size=100&status_category[one_of]=live&severity[gte]={minor.public_id}"
    get_ok(reader, filtered)
    with django_assert_max_num_queries(small_count + 2):
        get_ok(reader, filtered)


# --- Creating ------------------------------------------------------------------------------------------


def test_create_declares_a_live_incident_with_a_lead(editor, acme, responder):
    major = severity_named(acme, "Major")
    response = editor.post("/api/v2/incidents", {
        "name": "Search is slow", "summary": "p99 above 5s", "severity_id": str(major.public_id),
        "incident_lead_id": responder.email, "idempotency_key": "create-1",
    })
    assert response.status_code == 201, response.content
    assert_matches_schema(response)
    body = response.json()["incident"]
    assert body["reference"] == "INC-1"
    assert body["incident_status"]["category"] == "live"
    assert body["severity"]["name"] == "Major"
    assert [r["user"]["email"] for r in body["roles"] if r["role"]["name"] == "Incident Lead"] == [responder.email]
    incident = Incident.objects.get(public_id=body["id"])
    declared = TimelineEvent.objects.get(incident=incident, kind=EventKind.DECLARED)
    assert declared.actor_kind == "api_key" and "test key" in declared.actor_label


def test_create_in_triage_and_lead_by_user_id(editor, acme, responder):
    member_id = Membership.objects.get(org=acme, user=responder).public_id
    response = editor.post("/api/v2/incidents", {
        "name": "Maybe an incident", "mode": "triage", "incident_lead_id": str(member_id), "idempotency_key": "k",
    })
    assert response.status_code == 201, response.content
    body = response.json()["incident"]
    assert body["incident_status"]["category"] == "triage"
    assert body["severity"] is None and body["accepted_at"] is None
    assert {r["user"]["id"] for r in body["roles"] if r["role"]["name"] == "Incident Lead"} == {str(member_id)}


def test_create_with_the_same_idempotency_key_returns_the_same_incident(editor, acme):
    payload = {"name": "Queue backing up", "idempotency_key": "deploy-42"}
    first = editor.post("/api/v2/incidents", payload)
    assert first.status_code == 201
    again = editor.post("/api/v2/incidents", {**payload, "name": "Retried with another name"})
    assert again.status_code == 200
    assert_matches_schema(again)
    assert again.json()["incident"]["id"] == first.json()["incident"]["id"]
    assert again.json()["incident"]["name"] == "Queue backing up"
    assert Incident.objects.filter(org=acme).count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.DECLARED).count() == 1
    other = editor.post("/api/v2/incidents", {**payload, "idempotency_key": "deploy-43"})
    assert other.status_code == 201
    assert Incident.objects.filter(org=acme).count() == 2


def test_idempotency_keys_are_per_organization(editor, api, api_key, acme, globex):
    editor.post("/api/v2/incidents", {"name": "Ours", "idempotency_key": "same"})
    theirs = api(api_key(globex, ApiKeyRole.INCIDENT_EDITOR)).post(
        "/api/v2/incidents", {"name": "Theirs", "idempotency_key": "same"}
    )
    assert theirs.status_code == 201
    assert theirs.json()["incident"]["name"] == "Theirs"


def test_a_lost_idempotency_race_creates_nothing_and_returns_the_winner(editor, acme, owner, monkeypatch):
    """Two creates with one key at once: both miss the first lookup, the second
    hits the unique constraint, its declare is rolled back and the first returned."""
    from incidentio.incidents.api import incidents as api_incidents

    winner = incident_declare(org=acme, actor=Actor.for_user(owner), name="Winner")
    Incident.objects.filter(pk=winner.pk).update(idempotency_key="raced")
    lookups = []
    real_lookup = api_incidents.created_with

    def lookup_that_misses_once(org, key):
        lookups.append(key)
        return None if len(lookups) == 1 else real_lookup(org, key)

    monkeypatch.setattr(api_incidents, "created_with", lookup_that_misses_once)
    response = editor.post("/api/v2/incidents", {"name": "Loser", "idempotency_key": "raced"})
    assert response.status_code == 200, response.content
    assert response.json()["incident"]["id"] == str(winner.public_id)
    assert len(lookups) == 2
    assert list(Incident.objects.filter(org=acme).values_list("name", flat=True)) == ["Winner"]
    # The loser's reference number was handed back with the rollback.
    assert IncidentCounter.objects.get(org=acme).last_number == 1


@pytest.mark.parametrize("payload, field", [
    ({"name": "No key"}, "idempotency_key"),
    ({"idempotency_key": "k"}, "name"),
    ({"name": "", "idempotency_key": "k"}, "name"),
    ({"name": "   ", "idempotency_key": "k"}, "name"),
    ({"name": "x" * 201, "idempotency_key": "k"}, "name"),
    ({"name": ["a list"], "idempotency_key": "k"}, "name"),
    ({"name": "Fine", "idempotency_key": "k" * 201}, "idempotency_key"),
    ({"name": "Fine", "idempotency_key": "k", "severity_id": 5}, "severity_id"),
    ({"name": "Fine", "idempotency_key": "k", "severity_id": "not-a-uuid"}, "severity_id"),
    ({"name": "Fine", "idempotency_key": "k", "severity_id": "6f1c1f8e-0000-4000-8000-000000000000"},
     "severity_id"),
    ({"name": "Fine", "idempotency_key": "k", "incident_lead_id": "nobody@nowhere.test"}, "incident_lead_id"),
    ({"name": "Fine", "idempotency_key": "k", "incident_lead_id": "not-a-uuid"}, "incident_lead_id"),
    ({"name": "Fine", "idempotency_key": "k", "mode": "learning"}, "mode"),
    ({"name": "Nul \x00 byte", "idempotency_key": "k"}, "name"),
])
def test_create_validation_errors_name_the_field(editor, acme, payload, field):
    response = editor.post("/api/v2/incidents", payload)
    assert response.status_code == 422, response.content
    assert field in error_fields(response)
    assert_matches_schema(response)
    assert not Incident.objects.filter(org=acme).exists()


def test_another_orgs_severity_or_member_is_unknown_on_create(editor, acme, globex, outsider):
    theirs = Severity.objects.filter(org=globex).first()
    response = editor.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k",
                                                 "severity_id": str(theirs.public_id)})
    missing = editor.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k",
                                                "severity_id": "6f1c1f8e-0000-4000-8000-000000000000"})
    assert response.status_code == missing.status_code == 422
    assert errors_of(response) == errors_of(missing)
    response = editor.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k",
                                                 "incident_lead_id": outsider.email})
    assert response.status_code == 422
    assert error_fields(response) == ["incident_lead_id"]


def test_malformed_json_is_a_400(editor, acme):
    response = editor.post("/api/v2/incidents", data='{"name": "x",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_request_error"
    assert_matches_schema(response)


@pytest.mark.parametrize("body", ["[]", '"a string"', "null", "42"])
def test_a_json_body_that_is_not_an_object_is_a_422(editor, acme, body):
    response = editor.post("/api/v2/incidents", data=body, content_type="application/json")
    assert response.status_code == 422, response.content
    errors_of(response)


def test_a_form_body_is_a_415(editor, acme):
    response = editor.post("/api/v2/incidents", data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert_matches_schema(response)


def test_a_viewer_key_cannot_create(reader, acme):
    response = reader.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k"})
    assert response.status_code == 403
    assert response.json()["type"] == "authorization_error"
    assert_matches_schema(response)
    assert not Incident.objects.exists()


# --- Editing ---------------------------------------------------------------------------------------------


def test_edit_changes_only_the_fields_sent(editor, declare, acme):
    incident = declare("Old name", summary="Old summary")
    fixing = status_named(acme, "Fixing")
    critical = severity_named(acme, "Critical")
    response = editor.post(f"/api/v2/incidents/{incident.reference}/actions/edit", {
        "name": "New name", "severity_id": str(critical.public_id), "status_id": str(fixing.public_id),
    })
    assert response.status_code == 200, response.content
    assert_matches_schema(response)
    body = response.json()["incident"]
    assert body["name"] == "New name" and body["summary"] == "Old summary"
    assert body["severity"]["name"] == "Critical"
    assert body["incident_status"]["name"] == "Fixing"
    kinds = set(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert {EventKind.RENAMED, EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED} <= kinds
    assert not {EventKind.SUMMARY_UPDATED} & kinds


def test_edit_clears_the_severity_with_null(editor, declare, acme):
    incident = declare(severity=severity_named(acme, "Minor"))
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", {"severity_id": None})
    assert response.status_code == 200
    assert response.json()["incident"]["severity"] is None


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": 12.5}, "name"),  # a number is not a string, though DRF alone would take it
    ({"name": True}, "name"),
    ({"status_id": None}, "status_id"),
    ({"status_id": "not-a-uuid"}, "status_id"),
    ({"summary": {"a": "dict"}}, "summary"),
])
def test_edit_validation_errors_name_the_field(editor, declare, payload, field):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", payload)
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]


def test_edit_to_a_non_live_status_is_refused_by_the_service(editor, declare, acme):
    incident = declare()
    closed = status_named(acme, "Closed")
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", {
        "name": "Renamed too", "status_id": str(closed.public_id),
    })
    assert response.status_code == 422
    assert error_fields(response) == ["status_id"]
    assert_matches_schema(response)
    incident.refresh_from_db()
    assert incident.name == "Checkout is down"  # nothing was written


# --- Closing -------------------------------------------------------------------------------------------------


def test_close_and_run_the_learning_flow(editor, declare):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/close", {"learning_flow": "run"})
    assert response.status_code == 200, response.content
    assert_matches_schema(response)
    body = response.json()["incident"]
    assert body["learning_flow"] == "running"
    assert body["incident_status"]["category"] == "learning"
    assert body["resolved_at"] is not None


def test_close_without_a_choice_when_the_rules_ask_is_a_422(editor, declare):
    incident = declare()
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/close", {})
    assert response.status_code == 422
    assert error_fields(response) == ["learning_flow"]


def test_critical_incidents_enter_the_flow_without_a_choice(editor, declare, acme):
    incident = declare(severity=severity_named(acme, "Critical"))
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/close", {})
    assert response.status_code == 200
    assert response.json()["incident"]["learning_flow"] == "running"


def test_opting_out_needs_the_opt_out_role(editor, api, api_key, declare, acme):
    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/actions/close"
    refused = editor.post(url, {"learning_flow": "opt_out", "opt_out_reason": "A false alarm."})
    assert refused.status_code == 403
    assert_matches_schema(refused)
    incident.refresh_from_db()
    assert incident.learning_flow == LearningFlowState.NOT_ENTERED and incident.is_live

    closer = api(api_key(acme, ApiKeyRole.INCIDENT_EDITOR, ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT))
    response = closer.post(url, {"learning_flow": "opt_out", "opt_out_reason": "A false alarm."})
    assert response.status_code == 200, response.content
    body = response.json()["incident"]
    assert body["learning_flow"] == "opted_out"
    assert body["opt_out_reason"] == "A false alarm."
    assert body["incident_status"]["category"] == "closed"
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.LEARNING_FLOW_OPTED_OUT).exists()


def test_the_opt_out_role_alone_cannot_close(api, api_key, declare, acme):
    incident = declare()
    client = api(api_key(acme, ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT))
    response = client.post(f"/api/v2/incidents/{incident.public_id}/actions/close",
                           {"learning_flow": "opt_out", "opt_out_reason": "No."})
    assert response.status_code == 403


@pytest.mark.parametrize("payload, field", [
    ({"learning_flow": "opt_out"}, "opt_out_reason"),
    ({"learning_flow": "opt_out", "opt_out_reason": "   "}, "opt_out_reason"),
    ({"learning_flow": "later"}, "learning_flow"),
    ({"learning_flow": 1}, "learning_flow"),
])
def test_close_validation_errors_name_the_field(api, api_key, declare, acme, payload, field):
    incident = declare()
    client = api(api_key(acme, ApiKeyRole.INCIDENT_EDITOR, ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT))
    response = client.post(f"/api/v2/incidents/{incident.public_id}/actions/close", payload)
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]
    incident.refresh_from_db()
    assert incident.is_live


def test_closing_a_closed_incident_is_a_422(editor, declare):
    incident = declare()
    url = f"/api/v2/incidents/{incident.public_id}/actions/close"
    assert editor.post(url, {"learning_flow": "run"}).status_code == 200
    again = editor.post(url, {"learning_flow": "run"})
    assert again.status_code == 422
    assert "not live" in errors_of(again)[0]["message"]


# --- Timeline ---------------------------------------------------------------------------------------------------


def test_timeline_is_oldest_first_and_pages(editor, reader, declare, acme):
    incident = declare()
    for name in ("Two", "Three", "Four"):
        editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", {"name": name})
    first = get_ok(reader, f"/api/v2/incidents/{incident.public_id}/timeline", page_size=2)
    events = first["timeline_events"]
    assert [e["kind"] for e in events] == ["declared", "renamed"]
    assert events[0]["actor"]["kind"] == "user" and events[0]["actor"]["user"]["email"] == "owner@acme.test"
    assert events[1]["actor"] == {"kind": "api_key", "name": events[1]["actor"]["name"], "user": None}
    rest = get_ok(reader, f"/api/v2/incidents/{incident.public_id}/timeline",
                  after=first["pagination_meta"]["after"])
    assert [e["text"] for e in rest["timeline_events"]] == ["Renamed from “Two” to “Three”",
                                                             "Renamed from “Three” to “Four”"]
    assert rest["pagination_meta"] == {"after": None, "page_size": 25}


def test_a_timeline_cursor_belongs_to_its_incident(reader, declare, responder):
    one, two = declare("One", lead=responder), declare("Two", lead=responder)
    after = get_ok(reader, f"/api/v2/incidents/{one.public_id}/timeline", page_size=1)["pagination_meta"]["after"]
    assert after
    response = reader.get(f"/api/v2/incidents/{two.public_id}/timeline", {"after": after})
    assert response.status_code == 422
    assert error_fields(response) == ["after"]


def test_request_id_is_echoed(reader, acme):
    response = reader.get("/api/v2/incidents/INC-404", HTTP_X_REQUEST_ID="my-request-0001")
    assert response.status_code == 404
    assert response.json()["request_id"] == "my-request-0001" == response["X-Request-Id"]


def test_an_incident_of_another_org_is_not_listed(reader, declare, globex, outsider):
    incident_declare(org=globex, actor=Actor.for_user(outsider), name="Theirs")
    declare("Ours")
    body = get_ok(reader, "/api/v2/incidents")
    assert [i["name"] for i in body["incidents"]] == ["Ours"]
    assert body["pagination_meta"]["total_record_count"] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_key_declare_one_incident(acme, api, api_key):
    """Real threads on real Postgres connections: one 201, the rest 200 with the same
    incident, and the losers' reference numbers handed back (no INC-2 gap)."""
    import threading

    token = api_key(acme, ApiKeyRole.INCIDENT_EDITOR)
    barrier = threading.Barrier(6, timeout=30)
    results: list = []

    def create() -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            response = api(token).post("/api/v2/incidents", {"name": "Same", "idempotency_key": "once"})
            results.append((response.status_code, response.json()["incident"]["id"]))
        except BaseException as error:  # broad on purpose: reported below
            results.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(code for code, _ in results) == [200] * 5 + [201]
    assert len({incident_id for _, incident_id in results}) == 1
    assert Incident.objects.filter(org=acme).count() == 1
    assert IncidentCounter.objects.get(org=acme).last_number == 1


def test_total_record_count_follows_new_incidents_and_filters(acme, owner, api, api_key):
    """A new incident is counted at once (the newest incidents are always counted live)."""
    client = api(api_key(acme))
    actor = Actor.for_user(owner)
    for number in range(3):
        incident_declare(org=acme, actor=actor, name=f"Counted {number}")
    assert client.get("/api/v2/incidents").json()["pagination_meta"]["total_record_count"] == 3
    assert client.get("/api/v2/incidents").json()["pagination_meta"]["total_record_count"] == 3
    incident_declare(org=acme, actor=actor, name="Counted 4", triage=True)
    assert client.get("/api/v2/incidents").json()["pagination_meta"]["total_record_count"] == 4
    triage = client.get("/api/v2/incidents?status_category[one_of]=triage").json()
    assert triage["pagination_meta"]["total_record_count"] == 1


def _queries_run(captured) -> list[dict]:
    return [q for q in captured.captured_queries if not q["sql"].startswith("PREPARE ")]


def test_total_record_count_is_right_across_the_settled_boundary(acme, api, api_key, settings):
    """selectors.incident_count remembers the count of incidents numbered well below
    the counter and counts the newest live: numbers a failed declare skipped are
    not counted, and a declare that commits late is counted at once."""
    # Only the list's own queries: without REDIS_URL the rate limit would count in the database cache.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    status = IncidentStatus.objects.filter(org=acme).first()
    numbers = [n for n in range(1, 351) if n not in (42, 300)]  # 42 failed; 300 is still being declared
    default_type = acme.incident_types.get(is_default=True)
    Incident.objects.bulk_create(
        Incident(org=acme, number=n, name=f"Bulk {n}", status=status, public_id=uuid.uuid4(),
                 incident_type=default_type) for n in numbers
    )
    IncidentCounter.objects.update_or_create(org=acme, defaults={"last_number": 350})
    client = api(api_key(acme))

    def total():
        return client.get("/api/v2/incidents?page_size=1").json()["pagination_meta"]["total_record_count"]

    client.get("/api/v2/incidents/INC-1")  # the key's last_used_at is written once a minute
    with CaptureQueriesContext(connection) as first:  # nothing remembered yet: still one query counts
        assert total() == 348
    # The key, the page, the count (a PREPARE is not a query run: incidentio/common/db.py).
    assert len(_queries_run(first)) == 3
    Incident.objects.create(org=acme, number=300, name="Late commit", status=status, incident_type=default_type)
    assert total() == 349
    with CaptureQueriesContext(connection) as later:  # the settled part is remembered
        assert total() == 349
    assert len(_queries_run(later)) == 3
