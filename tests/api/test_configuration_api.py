"""The configuration API: incident statuses, severities and incident roles.

Any key reads them; creating and updating needs ``manage_settings``.
"""

from __future__ import annotations

import pytest

from incidentio.incidents.models import IncidentRole, IncidentStatus, RoleKind, Severity
from orgs.models import ApiKeyRole
from tests.api.conftest import assert_matches_schema, error_fields

RESOURCES = {
    # path: (list key, item key, model, a create payload)
    "incident_statuses": ("incident_statuses", "incident_status", IncidentStatus,
                          {"name": "Mitigated", "category": "live", "description": "Impact is over."}),
    "severities": ("severities", "severity", Severity, {"name": "Catastrophic", "description": "All hands."}),
    "incident_roles": ("incident_roles", "incident_role", IncidentRole,
                       {"name": "Communications", "shortform": "comms", "instructions": "Talk to customers."}),
}


@pytest.fixture
def admin_key(acme, api, api_key):
    return api(api_key(acme, ApiKeyRole.MANAGE_SETTINGS))


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_returns_the_orgs_configuration_in_pages(reader, acme, globex, resource):
    plural, _, model, _ = RESOURCES[resource]
    expected = [str(pk) for pk in model.objects.filter(org=acme).order_by("pk").values_list("public_id", flat=True)]
    response = reader.get(f"/api/v2/{resource}")
    assert response.status_code == 200
    assert_matches_schema(response)
    body = response.json()
    assert [item["id"] for item in body[plural]] == expected
    assert body["pagination_meta"] == {"after": None, "page_size": 25}

    walked, after = [], None
    while True:
        page = reader.get(f"/api/v2/{resource}", {"page_size": 1, **({"after": after} if after else {})}).json()
        walked += [item["id"] for item in page[plural]]
        after = page["pagination_meta"]["after"]
        if after is None:
            break
    assert walked == expected


def test_status_json(reader, acme):
    fixing = IncidentStatus.objects.get(org=acme, name="Fixing")
    body = reader.get(f"/api/v2/incident_statuses/{fixing.public_id}").json()["incident_status"]
    assert body == {
        "id": str(fixing.public_id), "name": "Fixing", "category": "live", "description": fixing.description,
        "rank": fixing.rank, "milestone": fixing.milestone,
    }


def test_severity_and_role_json(reader, acme):
    critical = Severity.objects.get(org=acme, name="Critical")
    assert reader.get(f"/api/v2/severities/{critical.public_id}").json()["severity"] == {
        "id": str(critical.public_id), "name": "Critical", "rank": critical.rank,
        "description": critical.description,
    }
    lead = IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD)
    body = reader.get(f"/api/v2/incident_roles/{lead.public_id}").json()["incident_role"]
    assert body["kind"] == "lead" and body["required"] is True and body["name"] == lead.name


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_needs_manage_settings(editor, admin_key, acme, resource):
    plural, singular, model, payload = RESOURCES[resource]
    refused = editor.post(f"/api/v2/{resource}", payload)
    assert refused.status_code == 403
    assert_matches_schema(refused)
    assert not model.objects.filter(org=acme, name=payload["name"]).exists()

    response = admin_key.post(f"/api/v2/{resource}", payload)
    assert response.status_code == 201, response.content
    assert_matches_schema(response)
    body = response.json()[singular]
    created = model.objects.get(org=acme, name=payload["name"])
    assert body["id"] == str(created.public_id)
    assert body["name"] == payload["name"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_duplicate_name_is_a_422_naming_name(admin_key, acme, resource):
    _, _, model, payload = RESOURCES[resource]
    existing = model.objects.filter(org=acme).first()
    response = admin_key.post(f"/api/v2/{resource}", {**payload, "name": existing.name.upper()})
    assert response.status_code == 422
    assert error_fields(response) == ["name"]
    assert_matches_schema(response)


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_validation_errors_name_the_field(admin_key, resource):
    for bad, field in (({"name": ""}, "name"), ({"name": ["x"]}, "name"), ({"name": "x" * 61}, "name")):
        _, _, _, payload = RESOURCES[resource]
        response = admin_key.post(f"/api/v2/{resource}", {**payload, **bad})
        assert response.status_code == 422, (bad, response.content)
        assert error_fields(response) == [field]


@pytest.mark.parametrize("payload, field", [
    ({"name": "Wrong types", "shortform": 5}, "shortform"),
    ({"name": "Wrong types", "shortform": "wt", "required": "yes"}, "required"),
    ({"name": "Wrong types", "shortform": "wt", "required": 1}, "required"),
    ({"name": "Wrong types", "shortform": "wt", "instructions": 0}, "instructions"),
])
def test_wrong_types_are_422_naming_the_field(admin_key, acme, payload, field):
    response = admin_key.post("/api/v2/incident_roles", payload)
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]
    assert not IncidentRole.objects.filter(org=acme, name="Wrong types").exists()


@pytest.mark.parametrize("payload, field", [
    ({"name": "Frozen", "category": "closed"}, "category"),
    ({"name": "Frozen", "category": "live", "milestone": "never"}, "milestone"),
    ({"name": "Frozen", "category": "learning", "milestone": "fixed"}, "milestone"),
])
def test_status_rules_come_from_the_service(admin_key, payload, field):
    response = admin_key.post("/api/v2/incident_statuses", payload)
    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_a_new_status_goes_last_and_sets_its_milestone(admin_key, acme):
    response = admin_key.post("/api/v2/incident_statuses",
                              {"name": "Mitigated", "category": "live", "milestone": "fixed"})
    body = response.json()["incident_status"]
    assert body["milestone"] == "fixed"
    assert body["rank"] > max(s.rank for s in IncidentStatus.objects.filter(org=acme).exclude(name="Mitigated"))


def test_update_changes_only_the_fields_sent(admin_key, acme):
    fixing = IncidentStatus.objects.get(org=acme, name="Fixing")
    fixing.description = "Keep me"
    fixing.save()
    response = admin_key.post(f"/api/v2/incident_statuses/{fixing.public_id}/actions/update", {"name": "Repairing"})
    assert response.status_code == 200, response.content
    assert_matches_schema(response)
    fixing.refresh_from_db()
    assert (fixing.name, fixing.description) == ("Repairing", "Keep me")

    minor = Severity.objects.get(org=acme, name="Minor")
    response = admin_key.post(f"/api/v2/severities/{minor.public_id}/actions/update", {"description": "Small"})
    assert response.json()["severity"] == {"id": str(minor.public_id), "name": "Minor", "rank": minor.rank,
                                           "description": "Small"}

    reporter = IncidentRole.objects.get(org=acme, kind=RoleKind.REPORTER)
    response = admin_key.post(f"/api/v2/incident_roles/{reporter.public_id}/actions/update",
                              {"instructions": "Tell us what you saw.", "required": True})
    body = response.json()["incident_role"]
    assert body["instructions"] == "Tell us what you saw." and body["required"] is True
    assert body["name"] == reporter.name and body["shortform"] == reporter.shortform


def test_the_lead_role_stays_required(admin_key, acme):
    lead = IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD)
    response = admin_key.post(f"/api/v2/incident_roles/{lead.public_id}/actions/update", {"required": False})
    assert response.status_code == 200
    assert response.json()["incident_role"]["required"] is True


def test_update_conflicts_name_the_field(admin_key, acme):
    lead = IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD)
    reporter = IncidentRole.objects.get(org=acme, kind=RoleKind.REPORTER)
    response = admin_key.post(f"/api/v2/incident_roles/{lead.public_id}/actions/update",
                              {"shortform": reporter.shortform})
    assert response.status_code == 422
    assert error_fields(response) == ["shortform"]
    closed = IncidentStatus.objects.get(org=acme, name="Closed")
    response = admin_key.post(f"/api/v2/incident_statuses/{closed.public_id}/actions/update", {"milestone": "fixed"})
    assert response.status_code == 422
    assert error_fields(response) == ["milestone"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_update_needs_manage_settings(editor, acme, resource):
    _, _, model, _ = RESOURCES[resource]
    obj = model.objects.filter(org=acme).first()
    response = editor.post(f"/api/v2/{resource}/{obj.public_id}/actions/update", {"name": "Renamed"})
    assert response.status_code == 403
    obj.refresh_from_db()
    assert obj.name != "Renamed"


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("object_id", ["nope", "6f1c1f8e-0000-4000-8000-000000000000"])
def test_unknown_ids_are_404(reader, admin_key, acme, resource, object_id):
    response = reader.get(f"/api/v2/{resource}/{object_id}")
    assert response.status_code == 404
    assert_matches_schema(response)
    response = admin_key.post(f"/api/v2/{resource}/{object_id}/actions/update", {"name": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize("page_size", ["0", "251", "x"])
def test_list_page_size_errors(reader, acme, page_size):
    response = reader.get("/api/v2/severities", {"page_size": page_size})
    assert response.status_code == 422
    assert error_fields(response) == ["page_size"]


def test_a_severities_cursor_is_not_a_roles_cursor(reader, acme):
    after = reader.get("/api/v2/severities", {"page_size": 1}).json()["pagination_meta"]["after"]
    response = reader.get("/api/v2/incident_roles", {"after": after})
    assert response.status_code == 422
    assert error_fields(response) == ["after"]
