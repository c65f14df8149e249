"""Tenant isolation and roles on every API route, enumerated from the URLconf.

A route added later is covered without anyone remembering to: each test
walks ``incidentio.api.urls.urlpatterns``. A route whose URL names an object
this file cannot make (a new ``<str:..._id>``) fails
``test_every_route_parameter_has_an_object_maker`` until one is added below.

- Another org's id on any detail or action route is a 404 whose body is the
  one a missing id gets (the request id aside): nothing tells "not yours"
  from "not there".
- A viewer key gets 403 on every write, whatever the body.
- A method a route does not serve is a 405 in the error shape.
- Every route and method is in the OpenAPI schema.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.urls import URLPattern

from incidentio.api import urls as api_urls
from incidentio.api.base import OrgApiView
from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType, RoleKind, Severity
from incidentio.incidents.services.documents import postmortem_create
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask
from learning.services.flow import incident_close
from orgs.models import ApiKeyRole
from tests.api.conftest import ALL_ROLES, errors_of, openapi_schema

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_METHODS = ("get", "post", "put", "patch", "delete")
_WRITES = ("post", "put", "patch", "delete")


def _api_routes() -> list[tuple[str, type, list[str], list[str]]]:
    """(route, view class, methods served, URL parameters) of every key-authenticated API route."""
    routes = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), "nested includes: flatten them here"
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is None or not issubclass(view_class, OrgApiView):
            continue  # the schema and its docs page are public
        route = str(pattern.pattern)
        methods = [m for m in _METHODS if hasattr(view_class, m)]
        routes.append((route, view_class, methods, _PARAM.findall(route)))
    return routes


ROUTES = _api_routes()
#: URL parameters that name a fixed part of the API, the same in every org (not an org's object), with a value.
FIXED_PARAMETERS = {"panel": "response"}
OBJECT_ROUTES = [(route, method) for route, _, methods, params in ROUTES if set(params) - set(FIXED_PARAMETERS)
                 for method in methods]
WRITE_ROUTES = [(route, method) for route, _, methods, _ in ROUTES for method in methods if method in _WRITES]


def _fill(route: str, ids: dict[str, str]) -> str:
    return "/api/v2/" + _PARAM.sub(lambda m: ids[m.group(1)], route)


def _world(org, user, *, filler: int = 0) -> dict[str, str]:
    """One of each object an API URL can name, in ``org``, made through the services.

    ``filler`` incidents come first, so this org's references run past the other's.
    """
    actor = Actor.for_user(user)
    for n in range(filler):
        incident_declare(org=org, actor=actor, name=f"Filler {n}")
    incident = incident_declare(org=org, actor=actor, name="Has everything", lead=user)
    postmortem_create(incident=incident, actor=actor)
    follow_up = follow_up_create(incident=incident, actor=actor, title="Fix it")
    in_flow = incident_declare(org=org, actor=actor, name="In the learning flow", lead=user)
    incident_close(incident=in_flow, actor=actor, learning_flow="run")
    task = LearningTask.objects.filter(incident=in_flow).first()
    assert task is not None, "the default learning flow creates tasks"
    return {
        "incident_id": str(incident.public_id),
        "incident_reference": incident.reference,
        "follow_up_id": str(follow_up.public_id),
        "status_id": str(IncidentStatus.objects.filter(org=org, category="live").first().public_id),
        "severity_id": str(Severity.objects.filter(org=org).first().public_id),
        "role_id": str(IncidentRole.objects.get(org=org, kind=RoleKind.LEAD).public_id),
        "task_id": str(task.public_id),
        "incident_type_id": str(IncidentType.objects.get(org=org, is_default=True).public_id),
        **FIXED_PARAMETERS,
    }


@pytest.fixture
def ours(acme, owner):
    return _world(acme, owner)


@pytest.fixture
def theirs(globex, outsider):
    return _world(globex, outsider, filler=3)


#: Every URL parameter a route may have; _world() makes an object for each.
ID_PARAMETERS = ("incident_id", "follow_up_id", "status_id", "severity_id", "role_id", "task_id", "incident_type_id")


def _missing_ids() -> dict[str, str]:
    return {**{name: str(uuid.uuid4()) for name in ID_PARAMETERS}, **FIXED_PARAMETERS}


def _send(client, method: str, url: str):
    if method in _WRITES:
        return client.generic(method.upper(), url, json.dumps({}), content_type="application/json")
    return client.generic(method.upper(), url)


def _without_request_id(response) -> dict:
    body = response.json()
    body.pop("request_id", None)
    return body


def test_the_api_has_routes_to_check():
    assert len(OBJECT_ROUTES) > 20
    assert len(WRITE_ROUTES) > 20


@pytest.mark.django_db
def test_every_route_parameter_has_an_object_maker():
    for route, _view, _methods, params in ROUTES:
        unknown = set(params) - set(ID_PARAMETERS) - set(FIXED_PARAMETERS)
        assert not unknown, f"{route}: add {sorted(unknown)} to ID_PARAMETERS and make one in _world()"


@pytest.mark.parametrize("route, method", OBJECT_ROUTES, ids=[f"{m.upper()} {r}" for r, m in OBJECT_ROUTES])
def test_another_orgs_id_is_a_404_like_a_missing_one(route, method, api, api_key, acme, ours, theirs):
    client = api(api_key(acme, *ALL_ROLES))
    variants = [(theirs, _missing_ids())]
    if "incident_id" in route:
        # By reference too: globex's INC-4 exists, acme has no INC-4.
        variants.append(({**theirs, "incident_id": theirs["incident_reference"]},
                         {**_missing_ids(), "incident_id": "INC-999"}))
    for foreign_ids, missing_ids in variants:
        foreign = _send(client, method, _fill(route, foreign_ids))
        missing = _send(client, method, _fill(route, missing_ids))
        assert foreign.status_code == 404, (foreign.status_code, foreign.content)
        assert missing.status_code == 404, (missing.status_code, missing.content)
        errors_of(foreign)
        assert _without_request_id(foreign) == _without_request_id(missing)
        assert foreign.get("Content-Type") == missing.get("Content-Type")
    # …while the same route finds acme's own objects, so the 404 above is about the org.
    own = _send(client, method, _fill(route, ours))
    assert own.status_code != 404, (own.status_code, own.content)


@pytest.mark.parametrize("route, method", WRITE_ROUTES, ids=[f"{m.upper()} {r}" for r, m in WRITE_ROUTES])
def test_a_viewer_key_cannot_write(route, method, api, api_key, acme, ours):
    client = api(api_key(acme, ApiKeyRole.VIEWER))
    response = _send(client, method, _fill(route, ours))
    assert response.status_code == 403, (response.status_code, response.content)
    assert response.json()["type"] == "authorization_error"
    errors_of(response)


@pytest.mark.parametrize("route", [r for r, *_ in ROUTES])
def test_a_method_a_route_does_not_serve_is_405(route, api, api_key, acme, ours):
    served = next(methods for r, _, methods, _ in ROUTES if r == route)
    client = api(api_key(acme, *ALL_ROLES))
    for method in ("delete", "patch", "put"):
        if method not in served:
            response = _send(client, method, _fill(route, ours))
            assert response.status_code == 405, (method, response.status_code, response.content)
            assert response.json()["type"] == "method_not_allowed"
            errors_of(response)
            break


@pytest.mark.django_db
def test_every_route_and_method_is_in_the_schema():
    schema = openapi_schema()
    for route, _view, methods, _params in ROUTES:
        path = "/api/v2/" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", route)
        for method in methods:
            operation = schema.find_operation_by_path(method.upper(), path)
            assert operation is not None, f"{method.upper()} {path} is missing from /api/v2/openapi.json"


LIST_ROUTES = [route for route, _, methods, params in ROUTES if "get" in methods]


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_no_read_shows_another_orgs_objects(route, api, api_key, acme, ours, theirs):
    """Every GET, list or object, with A's key and A's ids: none of B's ids appear anywhere in it."""
    client = api(api_key(acme, *ALL_ROLES))
    url = _fill(route, ours)
    response = client.get(url + ("?page_size=250" if not _PARAM.search(route) else ""))
    assert response.status_code == 200, (url, response.status_code)
    text = response.content.decode()
    leaked = [name for name, value in theirs.items()
              if name != "incident_reference" and name not in FIXED_PARAMETERS and value in text]
    assert not leaked, f"GET {url} shows another org's {leaked}"
    assert "Filler" not in text  # only B has incidents named so
