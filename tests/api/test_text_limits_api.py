"""Over-long text through the API: a 422 naming the field, and nothing stored
(the limits are incidentio/common/limits.py; the services enforce them)."""

from __future__ import annotations

import pytest

from incidentio.common import limits
from incidentio.incidents.models import EventKind, FollowUp, Incident, Severity
from tests.api.conftest import assert_matches_schema, error_fields

pytestmark = pytest.mark.django_db


def test_create_with_an_over_long_summary_is_422_and_creates_nothing(editor, acme):
    response = editor.post("/api/v2/incidents", {
        "name": "Search is slow", "summary": "[" * (limits.INCIDENT_SUMMARY + 1), "idempotency_key": "long-1",
    })

    assert response.status_code == 422
    assert_matches_schema(response)
    assert error_fields(response) == ["summary"]
    assert not Incident.objects.filter(org=acme).exists()


def test_edit_with_an_over_long_summary_is_422_and_keeps_the_old_one(editor, declare):
    incident = declare(summary="Old")

    response = editor.post(f"/api/v2/incidents/{incident.public_id}/actions/edit", {
        "summary": "x" * (limits.INCIDENT_SUMMARY + 1),
    })

    assert response.status_code == 422
    assert error_fields(response) == ["summary"]
    incident.refresh_from_db()
    assert incident.summary == "Old"
    assert not incident.timeline.filter(kind=EventKind.SUMMARY_UPDATED).exists()


def test_follow_up_with_an_over_long_description_is_422_and_creates_nothing(editor, declare):
    incident = declare()

    response = editor.post(f"/api/v2/incidents/{incident.public_id}/follow_ups", {
        "title": "Add an alert", "description": "x" * (limits.FOLLOW_UP_DESCRIPTION + 1),
    })

    assert response.status_code == 422
    assert error_fields(response) == ["description"]
    assert not FollowUp.objects.filter(incident=incident).exists()


def test_severity_with_an_over_long_description_is_422_and_creates_nothing(superkey, acme):
    before = Severity.objects.filter(org=acme).count()

    response = superkey.post("/api/v2/severities", {"name": "Sev0", "description": "x" * (limits.CONFIG_TEXT + 1)})

    assert response.status_code == 422
    assert error_fields(response) == ["description"]
    assert Severity.objects.filter(org=acme).count() == before
