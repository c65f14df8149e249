"""API fixtures: keys with roles, clients that send them, and a check that a
response is what the OpenAPI schema at /api/v2/openapi.json says it is."""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from django.test import Client
from rest_framework.test import APIClient
from schemathesis.core.transport import Response as SchemathesisResponse

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole
from orgs.services import api_key_create

ALL_ROLES = tuple(ApiKeyRole.values)


@pytest.fixture
def api_key():
    """``api_key(org, *roles)`` → a new key's token (a viewer key without roles given)."""

    def make(org, *roles: str) -> str:
        _key, token = api_key_create(
            org=org, name=f"test key ({', '.join(roles) or 'viewer'})", roles=list(roles or ["viewer"]),
            created_by=None,
        )
        return token

    return make


@pytest.fixture
def api():
    """``api(token)`` → an APIClient sending ``Authorization: Bearer <token>`` and JSON bodies."""

    def make(token: str | None = None) -> APIClient:
        client = APIClient()
        client.default_format = "json"
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def editor(acme, api, api_key):
    """A client with an incident_editor key of acme."""
    return api(api_key(acme, ApiKeyRole.INCIDENT_EDITOR))


@pytest.fixture
def reader(acme, api, api_key):
    """A client with a viewer key of acme."""
    return api(api_key(acme, ApiKeyRole.VIEWER))


@pytest.fixture
def superkey(acme, api, api_key):
    """A client with every role on acme."""
    return api(api_key(acme, *ALL_ROLES))


@pytest.fixture
def declare(acme, owner):
    """``declare(name=..., **kwargs)`` → an acme incident declared through the service by ``owner``."""

    def make(name: str = "Checkout is down", *, org=None, actor=None, **kwargs):
        return incident_declare(org=org or acme, actor=actor or Actor.for_user(owner), name=name, **kwargs)

    return make


def errors_of(response) -> list[dict]:
    """The API error body (docs/api.md)'s errors, after checking the envelope."""
    body = response.json()
    assert body["status"] == response.status_code, body
    assert body["request_id"] == response["X-Request-Id"], body
    assert body["type"] and isinstance(body["errors"], list) and body["errors"], body
    return body["errors"]


def error_fields(response) -> list[str | None]:
    return [error.get("source", {}).get("field") for error in errors_of(response)]


_schema = None


def openapi_schema():
    global _schema
    if _schema is None:
        # Without the Accept header the view answers YAML (SpectacularAPIView picks by Accept).
        raw = Client().get("/api/v2/openapi.json", HTTP_ACCEPT="application/json")
        assert raw.status_code == 200
        _schema = schemathesis.openapi.from_dict(json.loads(raw.content))
    return _schema


def assert_matches_schema(response) -> None:
    """The response's status, headers and body are what the schema declares for its operation."""
    method, path = response.request["REQUEST_METHOD"], response.request["PATH_INFO"]
    operation = openapi_schema().find_operation_by_path(method, path)
    assert operation is not None, f"{method} {path} is not in the schema"
    prepared = requests.Request(method, f"http://testserver{path}").prepare()
    converted = SchemathesisResponse(
        status_code=response.status_code, headers={k: [v] for k, v in response.headers.items()},
        content=response.content, request=prepared, elapsed=0.0, verify=True,
    )
    operation.validate_response(converted)


@pytest.fixture
def unprepared_connection():
    """The test connection as a fresh one: no hot statement prepared yet (incidentio/common/db.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    connection._incidentio_prepared = None
