"""Every response carries a Content-Security-Policy that lets no inline or
foreign script run (issue #22); tests/browser/test_csp_browser.py shows the
pages still work under it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from orgs import services
from orgs.models import Membership

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"


def directives(response) -> dict[str, list[str]]:
    assert HEADER in response.headers, f"{response.status_code} {response.get('Content-Type')}"
    parts = (part.split() for part in response.headers[HEADER].split(";") if part.strip())
    return {name: values for name, *values in parts}


def _org_page_routes(patterns=None, prefix=""):
    """Every plain route whose only parameter is the org's slug: the dashboard pages."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _org_page_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("<slug:org_slug>/"):
            if route.count("<") == 1 and "^" not in route:
                yield route


ORG_PAGES = sorted(set(_org_page_routes()))


def test_the_dashboard_is_found_and_walked():
    assert {"<slug:org_slug>/", "<slug:org_slug>/incidents/", "<slug:org_slug>/settings/members/"} <= set(ORG_PAGES)


@pytest.fixture
def owner_client(acme, owner, signed_in):
    return signed_in(owner, acme)


@pytest.mark.parametrize("route", ORG_PAGES)
def test_every_dashboard_page_has_the_policy(owner_client, route):
    response = owner_client.get("/" + route.replace("<slug:org_slug>", "acme"))
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]


def test_an_incident_page_and_its_on_demand_form_have_the_policy(acme, owner, owner_client):
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Queue backed up")
    for path in (f"/acme/incidents/{incident.public_id}/", f"/acme/incidents/{incident.public_id}/forms/follow-up/"):
        response = owner_client.get(path)
        assert response.status_code == 200, path
        assert directives(response)["script-src"] == ["'self'"], path


@pytest.fixture
def invitation_path(acme, admin):
    _, token = services.invitation_create(
        actor=Membership.objects.get(org=acme, user=admin), email="new@example.com", role="responder"
    )
    return f"/invitations/{token}/"


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/nowhere/at/all/",  # the 404 page
        "/api/v2/openapi.json",
        "/api/v2/identity",  # JSON 401
        "/api/v2/incidents",
        "/healthz",
        "/admin/login/",
    ],
)
def test_anonymous_pages_and_api_responses_have_the_policy(path):
    policy = directives(Client().get(path))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def test_the_invitation_page_has_the_policy(invitation_path):
    assert directives(Client().get(invitation_path))["script-src"] == ["'self'"]


def test_api_docs_allow_inline_styles_but_no_inline_or_foreign_script():
    """ReDoc injects <style> elements and runs its search in a blob: worker;
    its script is ours (drf-spectacular-sidecar), not a CDN's."""
    response = Client().get("/api/v2/docs")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in page
    assert "<script>" not in page and "<style>" not in page and "https://" not in page


def test_no_page_template_has_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        for needle in ("<script>", "<style", " style=", " onclick=", " onload=", " onsubmit=", " onchange=")
        if needle in path.read_text()
    ]
    assert offenders == []
