"""The post-mortem editor's live preview endpoint (docs/incidents.md): the
server's own sanitised rendering of text it is sent, for responders of the
incident's org, behind the CSRF check; nothing is saved."""

from __future__ import annotations

import pytest
from django.test import Client

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.incidents.models import Postmortem
from incidentio.incidents.services.incidents import incident_declare
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(acme, responder):
    return incident_declare(org=acme, actor=Actor.for_user(responder), name="Checkout is down")


def _preview_url(incident, org_slug: str = "acme") -> str:
    return f"/{org_slug}/incidents/{incident.public_id}/postmortem/preview/"


def test_preview_is_the_sanitised_rendering_and_saves_nothing(signed_in, responder, acme, incident):
    client = signed_in(responder, acme)
    text = "# What happened\n\nA *bad* deploy <script>alert(1)</script> [x](javascript:alert(2))"

    response = client.post(_preview_url(incident), {"content": text})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<h1>What happened</h1>" in html and "<em>bad</em>" in html
    assert "<script>" not in html and "href=\"javascript:" not in html
    assert "&lt;script&gt;" in html  # typed HTML is shown as text
    assert not Postmortem.objects.filter(incident=incident).exists()


def test_an_empty_text_previews_as_the_page_shows_it(signed_in, responder, acme, incident):
    response = signed_in(responder, acme).post(_preview_url(incident), {"content": ""})
    assert response.status_code == 200
    assert "Nothing written yet." in response.content.decode()


def test_a_text_over_the_limit_gets_a_clear_error(signed_in, responder, acme, incident):
    response = signed_in(responder, acme).post(_preview_url(incident), {"content": "x" * (limits.POSTMORTEM + 1)})
    assert response.status_code == 400
    assert f"at most {limits.POSTMORTEM} characters" in response.content.decode()


def test_viewers_may_not_use_it(signed_in, viewer, acme, incident):
    response = signed_in(viewer, acme).post(_preview_url(incident), {"content": "Hello"})
    assert response.status_code == 403


def test_another_orgs_incident_is_a_404(signed_in, outsider, globex, incident):
    response = signed_in(outsider, globex).post(_preview_url(incident, "globex"), {"content": "Hello"})
    assert response.status_code == 404


def test_it_answers_post_only(signed_in, responder, acme, incident):
    assert signed_in(responder, acme).get(_preview_url(incident)).status_code == 405


def test_it_needs_a_csrf_token_and_takes_the_cookies_one_as_a_header(responder, acme, incident):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/?next=/acme/")
    client.post("/accounts/login/", {"login": responder.email, "password": PASSWORD,
                                     "next": "/acme/", "csrfmiddlewaretoken": page.context["csrf_token"]})
    assert client.get("/acme/").status_code == 200

    refused = client.post(_preview_url(incident), {"content": "Hello"})
    assert refused.status_code == 403

    # What static/js/postmortem_editor.js sends: the csrftoken cookie's value in X-CSRFToken.
    cookie = client.cookies["csrftoken"].value
    accepted = client.post(_preview_url(incident), {"content": "Hello"}, HTTP_X_CSRFTOKEN=cookie)
    assert accepted.status_code == 200 and "<p>Hello</p>" in accepted.content.decode()


def test_previews_do_not_fill_the_markdown_cache_the_pages_rely_on(signed_in, responder, acme, incident):
    from incidentio.common.markdown import _render_cached

    client = signed_in(responder, acme)
    before = _render_cached.cache_info().currsize
    for pause in range(5):  # one preview per pause in typing
        assert client.post(_preview_url(incident), {"content": f"# Draft {pause}\n\nStill typing"}).status_code == 200
    assert _render_cached.cache_info().currsize == before
