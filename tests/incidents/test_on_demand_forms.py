"""The incident page's less-used forms, served when opened
(incidentio/incidents/views/on_demand_forms.py, static/js/on_demand_forms.js)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp, Incident
from incidentio.incidents.services.incidents import incident_declare
from incidentio.incidents.views.on_demand_forms import ON_DEMAND_FORMS

pytestmark = pytest.mark.django_db
FRAGMENT = {"HTTP_X_FRAGMENT": "form"}


@pytest.fixture
def incident(acme, owner) -> Incident:
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Checkout <down>",
                                summary="Card **payments** fail")
    Incident.objects.filter(pk=incident.pk).update(identified_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    return incident


def _page(incident) -> str:
    return f"/acme/incidents/{incident.public_id}/"


def _form_url(incident, name: str) -> str:
    return f"{_page(incident)}forms/{name}/"


def test_the_incident_page_links_each_form_instead_of_carrying_it(signed_in, responder, acme, incident):
    html = signed_in(responder, acme).get(_page(incident)).content.decode()
    for name, spec in ON_DEMAND_FORMS.items():
        details = re.search(rf'<details class="inline-edit" data-form-url="([^"]+)" data-testid="form-{name}">'
                            rf"<summary>([^<]+)</summary>.*?</details>", html, re.S)
        assert details, name
        assert details.group(1) == _form_url(incident, name) and details.group(2) == spec.title
        assert f'href="{_form_url(incident, name)}">Open the form</a>' in details.group(0)
    for field in ('name="duration_minutes"', 'name="attendees"', 'name="impact_started_at"', 'name="summary"'):
        assert field not in html
    assert re.search(r'<script src="/static/js/on_demand_forms(\.[0-9a-f]+)?\.js" defer></script>', html)


def test_a_fragment_is_the_form_alone_filled_with_the_incidents_values(signed_in, responder, acme, incident,
                                                                       owner):
    client = signed_in(responder, acme)
    details = client.get(_form_url(incident, "details"), **FRAGMENT)
    assert details.status_code == 200 and "X-Fragment" in details["Vary"]
    body = details.content.decode()
    assert body.lstrip().startswith("<form") and "<html" not in body
    assert f'action="{_page(incident)}details/"' in body
    assert 'value="Checkout &lt;down&gt;"' in body and "Card **payments** fail" in body

    timestamps = client.get(_form_url(incident, "timestamps"), **FRAGMENT).content.decode()
    assert 'name="identified_at"' in timestamps and 'value="2024-05-01T09:30"' in timestamps

    for name in ("follow-up", "debrief"):  # both offer the org's members
        body = client.get(_form_url(incident, name), **FRAGMENT).content.decode()
        assert f'value="{owner.pk}"' in body and owner.name in unescape(body)


def test_without_the_header_the_form_has_a_page_of_its_own(signed_in, responder, acme, incident):
    response = signed_in(responder, acme).get(_form_url(incident, "follow-up"))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body and 'data-testid="form-page"' in body
    assert "<h2>Add a follow-up</h2>" in body and f'href="{_page(incident)}"' in body
    assert f'action="{_page(incident)}follow-ups/"' in body


def test_the_fetched_form_posts_to_its_action(signed_in, responder, acme, incident):
    client = signed_in(responder, acme)
    body = client.get(_form_url(incident, "follow-up"), **FRAGMENT).content.decode()
    action = re.search(r'action="([^"]+)"', body).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    response = client.post(action, {"csrfmiddlewaretoken": token, "title": "Add an index", "priority": "high",
                                    "assignee": str(responder.pk)})
    assert response.status_code == 302 and response["Location"] == _page(incident)
    follow_up = FollowUp.objects.get(incident=incident)
    assert follow_up.title == "Add an index" and follow_up.assignee == responder


def test_only_responders_of_the_incidents_org_get_its_forms(signed_in, viewer, responder, outsider, acme, globex,
                                                            incident):
    assert signed_in(viewer, acme).get(_form_url(incident, "details"), **FRAGMENT).status_code == 403
    other_org = signed_in(outsider, globex).get(f"/globex/incidents/{incident.public_id}/forms/details/", **FRAGMENT)
    assert other_org.status_code == 404
    client = signed_in(responder, acme)
    assert client.get(_form_url(incident, "no-such-form"), **FRAGMENT).status_code == 404
    assert client.post(_form_url(incident, "details"), {"name": "x"}).status_code == 405
    assert Incident.objects.get(pk=incident.pk).name == "Checkout <down>"


def test_a_renamed_member_is_offered_under_the_new_name(signed_in, responder, acme, incident):
    """The member choices are shared between pages only while the members read are the same."""
    client = signed_in(responder, acme)
    assert "Renamed Person" not in client.get(_page(incident)).content.decode()
    responder.name = "Renamed Person"
    responder.save(update_fields=["name"])
    assert ">Renamed Person</option>" in client.get(_page(incident)).content.decode()
    assert "Renamed Person" in client.get(_form_url(incident, "follow-up"), **FRAGMENT).content.decode()
