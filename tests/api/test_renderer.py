"""The API's JSON renderer (incidentio/api/renderers.py) writes what DRF's would."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from incidentio.api.renderers import FastJSONRenderer
from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare

UTC = dt.UTC


@pytest.mark.parametrize("value", [
    {"at": dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)},
    {"at": dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)},
    {"at": dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
    {"at": dt.datetime(2026, 3, 14, 9, 26, 53)},  # naive
    {"day": dt.date(2026, 3, 14), "id": uuid.UUID(int=7, version=4)},
    {"text": "line\u2028separator\u2029paragraph é <b>&amp;</b> \"quoted\" \\ \n"},
    {"lazy": gettext_lazy("This field is required."), "amount": decimal.Decimal("1.50")},
    {"nested": [{"a": None, "b": True, "c": 1.5, "d": [1, 2, 3]}, (), []]},
])
def test_bytes_match_drfs_renderer(value):
    assert FastJSONRenderer().render(value) == JSONRenderer().render(value)


def test_nothing_renders_as_an_empty_body():
    assert FastJSONRenderer().render(None) == b""


def test_an_indent_asked_for_pretty_prints(acme, owner, reader):
    incident_declare(org=acme, actor=Actor.for_user(owner), name="Pretty", summary="", severity=None)
    compact = reader.get("/api/v2/incidents?page_size=1")
    pretty = reader.get("/api/v2/incidents?page_size=1", HTTP_ACCEPT="application/json; indent=4")
    assert b"\n" not in compact.content
    assert pretty.content.startswith(b'{\n  "incidents"')
    assert json.loads(pretty.content) == json.loads(compact.content)
    assert compact["Content-Type"] == pretty["Content-Type"] == "application/json"


def test_errors_still_render_as_json(acme, reader):
    response = reader.get("/api/v2/incidents?page_size=0")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    assert "page_size" in json.dumps(response.json())
