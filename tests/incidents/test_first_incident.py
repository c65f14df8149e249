"""A brand-new org's incidents list greets it with a first-incident prompt; a list
emptied by filters says so and offers to clear them."""

from __future__ import annotations

import re

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db

LIST = "/acme/incidents/"


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_new_org_gets_a_first_incident_prompt_with_a_declare_button(responder, acme, signed_in):
    page = _text(signed_in(responder, acme).get(LIST))

    assert 'data-testid="first-incident"' in page and "No incidents match" not in page
    assert "An incident is anything that hurts your customers or your team" in page
    assert '<a class="button" href="/acme/incidents/declare/">Declare your first incident</a>' in page


def test_a_viewer_of_a_new_org_is_told_rather_than_offered_a_button(viewer, acme, signed_in):
    page = _text(signed_in(viewer, acme).get(LIST))

    assert 'data-testid="first-incident"' in page
    assert "Declare your first incident" not in page
    assert "When someone declares one, it shows here." in page


def test_a_filtered_empty_list_keeps_no_match_and_offers_to_clear(responder, owner, acme, signed_in):
    incident_declare(org=acme, actor=Actor.for_user(owner), name="Checkout down")

    page = _text(signed_in(responder, acme).get(LIST, {"q": "nothing like this"}))

    assert 'data-testid="first-incident"' not in page
    assert re.search(r'No incidents match these filters\. <a href="/acme/incidents/">Clear filters</a>', page)
