"""The benchmark-only ceiling endpoint and query counter (bench/endpoints.py):
unreachable unless BENCH_ENDPOINTS is on; when on, behind the same API-key
authentication as every API view, and the counter reports what ran."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches

import incidentio.api.urls
import incidentio.config.urls
from bench.endpoints import QUERY_HEADER
from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db
CEILING = "/api/v2/bench/ceiling"


def _reload_urls():
    importlib.reload(incidentio.api.urls)
    importlib.reload(incidentio.config.urls)
    clear_url_caches()


@pytest.fixture
def bench_on(settings):
    settings.BENCH_ENDPOINTS = True
    settings.MIDDLEWARE = ["bench.endpoints.QueryCountMiddleware", *settings.MIDDLEWARE]
    _reload_urls()
    yield
    settings.BENCH_ENDPOINTS = False
    _reload_urls()


def test_the_ceiling_is_not_routed_by_default(acme, api, api_key):
    assert api(api_key(acme)).get(CEILING).status_code == 404
    assert QUERY_HEADER not in api(api_key(acme)).get("/api/v2/incidents", HTTP_X_BENCH_QUERIES="1")


def test_the_ceiling_answers_a_page_of_25_incidents_to_a_key_only(bench_on, acme, api, api_key):
    assert api().get(CEILING).status_code == 401
    response = api(api_key(acme)).get(CEILING)
    assert response.status_code == 200
    body = response.json()
    assert len(body["incidents"]) == 25
    assert set(body["incidents"][0]) >= {"id", "reference", "incident_status", "severity", "roles", "permalink"}


def test_the_query_counter_reports_the_queries_a_request_ran(bench_on, acme, owner, api, api_key,
                                                             unprepared_connection):
    for number in range(3):
        incident_declare(org=acme, actor=Actor.for_user(owner), name=f"Incident {number}")
    client = api(api_key(acme))
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v2/incidents", HTTP_X_BENCH_QUERIES="1")
    assert response.status_code == 200
    ran = [query for query in captured.captured_queries if not query["sql"].startswith("PREPARE ")]
    assert int(response[QUERY_HEADER]) == len(ran) > 0
    assert len(ran) < len(captured)  # on a fresh connection the PREPAREs ran, and were not counted
    assert QUERY_HEADER not in client.get("/api/v2/incidents")


def test_the_product_never_imports_bench_when_off():
    """bench/ is no part of the product: with the setting off, loading the
    settings, every URL and the WSGI app imports nothing from it."""
    code = (
        "import sys, django; from django.conf import settings; django.setup(); "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "import incidentio.config.wsgi; "
        "loaded = sorted(m for m in sys.modules if m == 'bench' or m.startswith('bench.')); "
        "assert not loaded, loaded"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "incidentio.config.settings"}
    env.pop("BENCH_ENDPOINTS", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
