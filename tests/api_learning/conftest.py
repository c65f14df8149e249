"""Fixtures for the learning-flow API: keys with roles, a JSON client, incidents in the flow.

The cast comes from ``tests/conftest.py``: ``acme`` with ``owner``, ``responder``
and ``viewer``; ``outsider`` owns ``globex``. Requests go through the Django
test client and the whole middleware and DRF stack, authenticated with real
bearer keys made by ``api_key_create``.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask
from learning.services.flow import incident_close
from orgs.models import ApiKeyRole
from orgs.services import api_key_create

ALL_ROLES = list(ApiKeyRole.values)


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Run Celery tasks in-process even when REDIS_URL is set (the Postgres run):
    the advance that follows the last task runs on commit, here and now."""


class ApiClient:
    """A Django test client that sends ``Authorization: Bearer <token>`` and JSON."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(_url(path), params or {}, headers=self.headers)

    def _send(self, method: str, path: str, body, raw: str | None = None):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return getattr(self.client, method)(_url(path), data, content_type="application/json",
                                            headers=self.headers)

    def post(self, path: str, body=None, raw: str | None = None):
        return self._send("post", path, body, raw)

    def put(self, path: str, body=None, raw: str | None = None):
        return self._send("put", path, body, raw)

    def delete(self, path: str):
        return self.client.delete(_url(path), headers=self.headers)


def _url(path: str) -> str:
    return path if path.startswith("/") else f"/api/v2/{path}"


@pytest.fixture
def make_key():
    """``make_key(org, *roles)`` → the token of a new key."""

    def make(org, *roles: str) -> str:
        _key, token = api_key_create(org=org, name="tests", roles=list(roles), created_by=None)
        return token

    return make


@pytest.fixture
def editor(acme, make_key) -> ApiClient:
    return ApiClient(make_key(acme, ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR))


@pytest.fixture
def reader(acme, make_key) -> ApiClient:
    return ApiClient(make_key(acme, ApiKeyRole.VIEWER))


@pytest.fixture
def admin_key(acme, make_key) -> ApiClient:
    return ApiClient(make_key(acme, ApiKeyRole.VIEWER, ApiKeyRole.MANAGE_SETTINGS))


@pytest.fixture
def stranger(globex, make_key) -> ApiClient:
    """A key of every role, in another organization."""
    return ApiClient(make_key(globex, *ALL_ROLES))


@pytest.fixture
def anonymous(db) -> ApiClient:
    return ApiClient(None)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``commit(fn, *args)``: call ``fn`` and run the on-commit hooks it queued (and
    those they queue), as a real commit would: the advance runs here."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def declare_and_close(org, user, *, lead=None, name="Checkout is down", commit=None) -> Incident:
    """A Minor incident closed into the learning flow (its first learning status)."""
    actor = Actor.for_user(user)
    incident = incident_declare(org=org, actor=actor, name=name,
                                severity=Severity.objects.get(org=org, name="Minor"), lead=lead)
    close = lambda: incident_close(incident=incident, actor=actor, learning_flow="run")  # noqa: E731
    return commit(close) if commit else close()


@pytest.fixture
def in_documenting(acme, owner, responder, commit) -> Incident:
    """INC-1, in Documenting with its four tasks, led (and so assigned) to the responder."""
    return declare_and_close(acme, owner, lead=responder, commit=commit)


def tasks_of(incident, status_name: str | None = None) -> list[LearningTask]:
    rows = LearningTask.objects.filter(incident=incident)
    if status_name:
        rows = rows.filter(status__name=status_name)
    return list(rows.order_by("status__rank", "rank", "pk"))


def error_fields(response) -> list[str | None]:
    return [e.get("source", {}).get("field") for e in response.json()["errors"]]


def without_request_id(response) -> dict:
    body = response.json()
    body.pop("request_id")
    return body
