"""``GET /api/v2/insights/{panel}`` (insights/api.py): one panel of the
Insights page, for the page's filters under the API's names; any key reads
it; an unknown panel is a 404 and a refused filter a 422 naming the parameter."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.utils import timezone

from incidentio.incidents.models import IncidentType, Severity
from insights.filters import insight_filters_parse, org_today
from insights.panels import PANELS
from orgs.models import ApiKeyRole
from tests.api.conftest import assert_matches_schema, error_fields, errors_of, openapi_schema
from tests.insights.fake_panels import fake_panels, response_panel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_panel_is_its_charts_for_the_filters_and_matches_the_schema(acme, reader, fake_panels):  # noqa: F811
    severity = Severity.objects.filter(org=acme).first()
    response = reader.get(f"/api/v2/insights/response?range=30d&severity[one_of]={severity.public_id}")
    assert response.status_code == 200, response.content
    assert_matches_schema(response)

    query = QueryDict(f"range=30d&severity={severity.public_id}")
    filters = insight_filters_parse(acme, query, today=org_today(acme, timezone.now()))
    expected = response_panel(acme, filters, now=timezone.now()).as_dict(filters)
    assert response.json() == expected
    body = response.json()
    assert body["range"] == {"from": filters.period.first.isoformat(), "to": filters.period.last.isoformat(),
                             "time_zone": acme.time_zone, "preset": "30d"}
    # Each bar's incidents keep the severity filter.
    assert all(f"severity={severity.public_id}" in row["link"] for chart in body["charts"] for row in chart["rows"])


@pytest.mark.parametrize("panel", list(PANELS))
def test_every_registered_panel_answers_for_a_custom_range_and_matches_the_schema(panel, acme, reader):
    response = reader.get(f"/api/v2/insights/{panel}?from=2026-01-01&to=2026-03-31")
    assert response.status_code == 200, response.content
    assert_matches_schema(response)
    assert response.json()["panel"] == panel
    assert response.json()["range"]["preset"] is None


@pytest.mark.parametrize("role", ApiKeyRole.values)
def test_any_key_reads_it(role, acme, api, api_key):
    assert api(api_key(acme, role)).get("/api/v2/insights/learning").status_code == 200


def test_without_a_key_it_is_401(api):
    response = api().get("/api/v2/insights/response")
    assert response.status_code == 401
    errors_of(response)


def test_an_unknown_panel_is_a_404(reader):
    response = reader.get("/api/v2/insights/velocity")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"
    assert "response, learning, tasks, follow_ups" in errors_of(response)[0]["message"]


@pytest.mark.parametrize("query, field, message", [
    ("range=week", "range", "Choose one of"),
    ("from=2026-01-01", "to", "Give both"),
    ("from=2026-02-30&to=2026-03-01", "from", "is not a date"),
    ("from=2026-03-01&to=2026-01-01", "from", "ends before it starts"),
    ("from=2020-01-01&to=2026-01-01", "to", "at most"),
    ("from=9999-12-30&to=9999-12-31", "from", "out of range"),
    ("severity[one_of]=not-an-id", "severity[one_of]", "Unknown severity in this organization."),
])
def test_a_refused_filter_is_a_422_naming_the_parameter(query, field, message, reader):
    response = reader.get(f"/api/v2/insights/response?{query}")
    assert response.status_code == 422, response.content
    assert error_fields(response) == [field]
    assert message in errors_of(response)[0]["message"]
    assert_matches_schema(response)


def test_another_orgs_incident_type_is_refused_like_an_unknown_one(acme, globex, reader):
    theirs = IncidentType.objects.filter(org=globex).first()
    ours = IncidentType.objects.filter(org=acme).first()
    response = reader.get(f"/api/v2/insights/tasks?incident_type[one_of]={ours.public_id},{theirs.public_id}")
    assert response.status_code == 422
    assert error_fields(response) == ["incident_type[one_of]"]
    assert errors_of(response)[0]["message"] == "Unknown incident type in this organization."
    assert reader.get(f"/api/v2/insights/tasks?incident_type[one_of]={ours.public_id}").status_code == 200


def test_the_schema_lists_the_endpoint_with_its_filters():
    operation = openapi_schema().find_operation_by_path("GET", "/api/v2/insights/{panel}")
    assert operation is not None
    definition = operation.definition.raw
    names = {parameter["name"] for parameter in definition["parameters"]}
    assert names == {"panel", "range", "from", "to", "incident_type[one_of]", "severity[one_of]"}
    panel = next(p for p in definition["parameters"] if p["name"] == "panel")
    assert sorted(panel["schema"]["enum"]) == sorted(PANELS)
    assert {"200", "404", "422"} <= set(definition["responses"])
