"""API keys are no sign-in: an org that requires single sign-on keeps its keys working."""

from __future__ import annotations

import pytest

from orgs.models import ApiKeyRole
from tests.api.conftest import assert_matches_schema
from tests.sso.signin_support import sso_on

pytestmark = pytest.mark.django_db


def test_an_api_key_keeps_working_when_the_org_requires_sso(acme, owner, api, api_key, declare):
    sso_on(acme, enforced=True)
    client = api(api_key(acme, ApiKeyRole.INCIDENT_EDITOR))
    declare("Checkout is down")

    listed = client.get("/api/v2/incidents")
    created = client.post("/api/v2/incidents", {"name": "Search is slow", "idempotency_key": "k-1"})

    assert listed.status_code == 200 and [i["name"] for i in listed.json()["incidents"]] == ["Checkout is down"]
    assert_matches_schema(listed)
    assert created.status_code == 201, created.content
