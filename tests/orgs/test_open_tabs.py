"""Open tabs across sign-ins and sign-outs in other tabs (docs/dashboard.md,
"Open tabs and typed text"), through the Django test client.

static/js/forms.js sends the csrftoken cookie's current value at submit time.
That works only because the token itself still rotates and is still checked:
a stale or forged one is refused. A post to an org whose session ended is
not replayed: the browser signs in and comes back to the form's page.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.middleware.csrf import _mask_cipher_secret
from django.test import Client

from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, TimelineEvent
from incidentio.incidents.services.incidents import incident_declare
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, user, org_slug: str) -> None:
    token = client.get(f"/accounts/login/?next=/{org_slug}/").context["csrf_token"]
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD,
                                                "next": f"/{org_slug}/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def _cookie_token(client: Client) -> str:
    return client.cookies[settings.CSRF_COOKIE_NAME].value


@pytest.fixture
def incident(acme, owner):
    return incident_declare(org=acme, actor=Actor.for_user(owner), name="Checkout is down")


def _updates(incident) -> int:
    return TimelineEvent.objects.filter(incident=incident, kind=EventKind.UPDATE_POSTED).count()


def test_a_sign_in_in_another_tab_still_refuses_the_old_token_and_accepts_the_current_one(
    owner, outsider, acme, globex, incident
):
    client = Client(enforce_csrf_checks=True)
    _sign_in(client, owner, "acme")
    incident_page = f"/acme/incidents/{incident.public_id}/"
    stale_masked = client.get(incident_page).context["csrf_token"]
    stale_secret = _cookie_token(client)

    _sign_in(client, outsider, "globex")  # tab B adds globex: the token rotates
    assert _cookie_token(client) != stale_secret

    post = f"/acme/incidents/{incident.public_id}/updates/"
    forged = "a" * 32
    for token in (stale_masked, stale_secret, forged, _mask_cipher_secret(forged), ""):
        response = client.post(post, {"message": "Rolled back", "csrfmiddlewaretoken": token})
        assert response.status_code == 403, token
        assert "This page expired" in response.content.decode()
    assert _updates(incident) == 0

    # What static/js/forms.js puts in the form at submit time: the cookie's current secret.
    response = client.post(post, {"message": "Rolled back", "csrfmiddlewaretoken": _cookie_token(client)})
    assert response.status_code == 302
    assert _updates(incident) == 1


def test_a_post_to_an_org_signed_out_in_another_tab_comes_back_to_its_page_after_sign_in(owner, acme, incident):
    client = Client()
    _sign_in(client, owner, "acme")
    page = f"/acme/incidents/{incident.public_id}/"
    client.post("/acme/sign-out/")  # tab B signs out of acme

    response = client.post(f"{page}updates/", {"message": "Rolled back"}, HTTP_REFERER=f"http://testserver{page}")

    assert response.status_code == 302
    assert urlsplit(response.url).path == "/accounts/login/"
    assert parse_qs(urlsplit(response.url).query)["next"] == [page]
    sign_in_page = client.get(response.url).content.decode()
    assert "Nothing was sent" in sign_in_page and "data-post-refused" in sign_in_page
    assert _updates(incident) == 0

    # Signing in again lands on the page with the form (not on the POST-only URL).
    token = client.get(response.url).context["csrf_token"]
    signed_in = client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD, "next": page,
                                                 "csrfmiddlewaretoken": token})
    assert signed_in.url == page
    assert client.get(page).status_code == 200


def test_a_refused_post_from_a_page_of_another_org_or_site_comes_back_to_the_org_home(owner, acme, incident):
    client = Client()
    post = f"/acme/incidents/{incident.public_id}/updates/"
    for referer in ("http://testserver/globex/", "https://evil.example/acme/", ""):
        response = client.post(post, {"message": "x"}, HTTP_REFERER=referer)
        assert parse_qs(urlsplit(response.url).query)["next"] == ["/acme/"], referer


def test_a_refused_fetch_gets_no_note_meant_for_a_person(owner, acme, incident):
    client = Client()
    preview = f"/acme/incidents/{incident.public_id}/postmortem/preview/"
    response = client.post(preview, {"content": "x"}, HTTP_SEC_FETCH_MODE="cors")
    assert response.status_code == 302
    assert "data-post-refused" not in client.get(response.url).content.decode()


def test_a_page_asked_for_signed_out_still_comes_back_to_itself(acme, incident):
    page = f"/acme/incidents/{incident.public_id}/?timeline=all"
    response = Client().get(page)
    assert parse_qs(urlsplit(response.url).query)["next"] == [page]


def test_a_tab_opened_as_one_person_never_posts_as_the_next_one(owner, responder, acme, incident):
    client = Client(enforce_csrf_checks=True)
    _sign_in(client, owner, "acme")
    page = f"/acme/incidents/{incident.public_id}/"
    opened_as = str(client.get(page).context["membership"].public_id)
    assert f'data-viewer="{opened_as}"' in client.get(page).content.decode()  # what forms.js sends as _as

    _sign_in(client, responder, "acme")  # tab B: someone else signs in to the same org in this browser
    post = f"{page}updates/"
    refused = client.post(post, {"message": "Rolled back", "csrfmiddlewaretoken": _cookie_token(client),
                                 "_as": opened_as}, HTTP_REFERER=f"http://testserver{page}")
    assert refused.status_code == 302 and refused["Location"] == page
    assert _updates(incident) == 0
    landed = client.get(page).content.decode()
    assert "Nothing was sent: this page was opened as someone else" in landed
    assert "responder@acme.test" in landed and "data-post-refused" in landed

    # The page, now the responder's, posts as the responder.
    now_as = str(client.get(page).context["membership"].public_id)
    sent = client.post(post, {"message": "Rolled back", "csrfmiddlewaretoken": _cookie_token(client), "_as": now_as})
    assert sent.status_code == 302
    assert TimelineEvent.objects.get(incident=incident, kind=EventKind.UPDATE_POSTED).actor_user_id == responder.pk
