"""Incident types in the API: the incident's ``incident_type``, choosing it on
create, changing it with actions/edit, the ``incident_type[one_of]`` list
filter, and the ``/incident_types`` resource. Every response is checked
against the served OpenAPI schema."""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, Incident, IncidentType, TimelineEvent
from incidentio.incidents.services.configuration import incident_type_create
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole
from tests.api.conftest import assert_matches_schema, error_fields, errors_of

MISSING = "6f1c1f8e-0000-4000-8000-000000000000"


@pytest.fixture
def security(acme):
    return incident_type_create(org=acme, name="Security")


@pytest.fixture
def theirs(globex):
    return incident_type_create(org=globex, name="Security")


def _default(org) -> IncidentType:
    return IncidentType.objects.get(org=org, is_default=True)


def _ok(response, code=200) -> dict:
    assert response.status_code == code, response.content
    assert_matches_schema(response)
    return response.json()


def _refs(body) -> list[str]:
    return [incident["reference"] for incident in body["incidents"]]


# --- Create ----------------------------------------------------------------------------------


def test_create_without_a_type_gets_the_default(editor, acme):
    body = _ok(editor.post("/api/v2/incidents", {"name": "Queue backing up", "idempotency_key": "k"}), 201)
    default = _default(acme)
    assert body["incident"]["incident_type"] == {"id": str(default.public_id), "name": "Default"}


def test_create_with_a_type(editor, acme, security):
    body = _ok(editor.post("/api/v2/incidents", {
        "name": "Leaked keys", "idempotency_key": "k", "incident_type_id": str(security.public_id),
    }), 201)
    assert body["incident"]["incident_type"] == {"id": str(security.public_id), "name": "Security"}
    assert Incident.objects.get(org=acme).incident_type == security


@pytest.mark.parametrize("value", ["theirs", MISSING, "not-a-uuid", 5])
def test_create_with_another_orgs_or_an_unknown_type_is_refused_on_the_field(editor, acme, theirs, value):
    value = str(theirs.public_id) if value == "theirs" else value
    response = editor.post("/api/v2/incidents", {"name": "Leaked keys", "idempotency_key": "k",
                                                 "incident_type_id": value})
    assert response.status_code == 422, response.content
    assert error_fields(response) == ["incident_type_id"]
    assert_matches_schema(response)
    assert not Incident.objects.filter(org=acme).exists()


def test_another_orgs_type_reads_as_a_missing_one(editor, theirs):
    foreign = editor.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k",
                                                "incident_type_id": str(theirs.public_id)})
    missing = editor.post("/api/v2/incidents", {"name": "x", "idempotency_key": "k", "incident_type_id": MISSING})
    assert errors_of(foreign) == errors_of(missing)


# --- Edit --------------------------------------------------------------------------------------


def test_edit_changes_the_type_and_writes_the_timeline(editor, declare, security):
    incident = declare("Leaked keys")
    body = _ok(editor.post(f"/api/v2/incidents/{incident.reference}/actions/edit",
                           {"incident_type_id": str(security.public_id)}))
    assert body["incident"]["incident_type"]["name"] == "Security"
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.TYPE_CHANGED)
    assert event.text == "Type changed from Default to Security"
    timeline = _ok(editor.get(f"/api/v2/incidents/{incident.public_id}/timeline"))["timeline_events"]
    assert timeline[-1]["kind"] == "type_changed"


def test_edit_to_the_same_type_writes_nothing(editor, declare, security):
    incident = declare("Leaked keys", incident_type=security)
    _ok(editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit",
                    {"incident_type_id": str(security.public_id)}))
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.TYPE_CHANGED).exists()


@pytest.mark.parametrize("value", ["theirs", MISSING, None])
def test_edit_with_another_orgs_unknown_or_no_type_changes_nothing(editor, declare, theirs, value):
    incident = declare("Leaked keys")
    value = str(theirs.public_id) if value == "theirs" else value
    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit",
                           {"incident_type_id": value, "name": "Renamed"})
    assert response.status_code == 422
    assert error_fields(response) == ["incident_type_id"]
    incident.refresh_from_db()
    assert (incident.incident_type.name, incident.name) == ("Default", "Leaked keys")
    assert not TimelineEvent.objects.filter(incident=incident, kind__in=[EventKind.TYPE_CHANGED,
                                                                          EventKind.RENAMED]).exists()


# --- The list filter ---------------------------------------------------------------------------


def test_the_list_filters_by_type(reader, declare, acme, security, theirs, globex, outsider):
    declare("One")
    declare("Two", incident_type=security)
    declare("Three")
    incident_declare(org=globex, actor=Actor.for_user(outsider), name="Theirs", incident_type=theirs)
    body = _ok(reader.get("/api/v2/incidents", {"incident_type[one_of]": str(security.public_id)}))
    assert _refs(body) == ["INC-2"]
    assert body["pagination_meta"]["total_record_count"] == 1
    default = _default(acme)
    both = f"{default.public_id},{security.public_id}"
    assert _refs(_ok(reader.get(f"/api/v2/incidents?incident_type[one_of]={both}"))) == ["INC-3", "INC-2", "INC-1"]
    body = _ok(reader.get("/api/v2/incidents", {"incident_type[one_of]": str(default.public_id)}))
    assert _refs(body) == ["INC-3", "INC-1"] and body["pagination_meta"]["total_record_count"] == 2


@pytest.mark.parametrize("value", ["theirs", MISSING, "nope"])
def test_an_unknown_or_another_orgs_type_is_a_422_on_the_filter(reader, theirs, value):
    value = str(theirs.public_id) if value == "theirs" else value
    response = reader.get("/api/v2/incidents", {"incident_type[one_of]": value})
    assert response.status_code == 422
    assert error_fields(response) == ["incident_type[one_of]"]
    assert_matches_schema(response)


def test_the_filter_is_in_the_schema(reader):
    schema = reader.get("/api/v2/openapi.json", HTTP_ACCEPT="application/json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v2/incidents"]["get"]["parameters"]}
    assert parameters["incident_type[one_of]"]["schema"]["type"] == "array"


# --- /incident_types -------------------------------------------------------------------------------


def test_incident_types_are_listed_with_the_default_marked(reader, acme, security, theirs):
    body = _ok(reader.get("/api/v2/incident_types"))
    assert [(t["name"], t["is_default"]) for t in body["incident_types"]] == [("Default", True), ("Security", False)]


def test_a_settings_key_creates_and_renames_types(api, api_key, acme, editor):
    assert editor.post("/api/v2/incident_types", {"name": "Data loss"}).status_code == 403
    admin = api(api_key(acme, ApiKeyRole.MANAGE_SETTINGS))
    created = _ok(admin.post("/api/v2/incident_types", {"name": "Data loss", "description": "Lost data."}), 201)
    assert created["incident_type"]["is_default"] is False
    renamed = _ok(admin.post(f"/api/v2/incident_types/{created['incident_type']['id']}/actions/update",
                             {"name": "Data leak"}))
    assert renamed["incident_type"] | {"id": None} == {
        "id": None, "name": "Data leak", "description": "Lost data.", "is_default": False, "rank": 1,
    }
    duplicate = admin.post("/api/v2/incident_types", {"name": "data LEAK"})
    assert duplicate.status_code == 422 and error_fields(duplicate) == ["name"]
