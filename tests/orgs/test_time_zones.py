"""The viewer's time zone (orgs/time_zones.py): which zone the dashboard shows
times in, through the pages a person sees.

A person's preference wins, then the browser's zone (the ``tz`` cookie
static/js/timezone.js sets), then the organization's, then UTC. Times carry
their zone; forms take local time; the API and the org's own schedules keep
their zones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import Debrief, Incident, IncidentStatus, StatusCategory
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import ApiKeyRole
from orgs.services import api_key_create
from orgs.time_zones import COOKIE_NAME
from tests.form_errors import error_next_to

#: 15:23 UTC on a winter day: 10:23 in New York (EST), 16:23 in Berlin (CET), 00:23 next day in Tokyo.
REPORTED = datetime(2026, 12, 7, 15, 23, tzinfo=UTC)


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


@pytest.fixture
def incident(acme, responder) -> Incident:
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Checkout is down")
    Incident.objects.filter(pk=incident.pk).update(reported_at=REPORTED)
    incident.refresh_from_db()
    return incident


def _page(client, incident) -> str:
    response = client.get(f"/acme/incidents/{incident.public_id}/")
    assert response.status_code == 200
    return unescape(response.content.decode())


def _reported(html: str) -> str:
    """The "Reported" time at the top of the incident page, as shown."""
    match = re.search(r"<dt>Reported</dt><dd><time datetime=\"([^\"]+)\">([^<]+)</time></dd>", html)
    assert match, "no Reported time"
    return f"{match[2]} [{match[1]}]"


# --- Which zone ---------------------------------------------------------------------------------


def test_without_a_browser_zone_or_a_preference_times_are_in_utc_and_say_so(as_responder, incident):
    assert _reported(_page(as_responder, incident)) == "7 Dec 2026, 15:23 UTC [2026-12-07T15:23:00+00:00]"


def test_the_browsers_zone_from_its_cookie(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    assert _reported(_page(as_responder, incident)) == "7 Dec 2026, 10:23 EST [2026-12-07T10:23:00-05:00]"


def test_the_cookie_as_javascript_writes_it_url_encoded(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America%2FNew_York"  # encodeURIComponent("America/New_York")
    assert _reported(_page(as_responder, incident)).startswith("7 Dec 2026, 10:23 EST")


def test_the_orgs_zone_when_the_browser_has_not_said(as_responder, acme, incident):
    acme.time_zone = "Europe/Berlin"
    acme.save(update_fields=["time_zone"])
    assert _reported(_page(as_responder, incident)).startswith("7 Dec 2026, 16:23 CET")


def test_the_browsers_zone_beats_the_orgs(as_responder, acme, incident):
    acme.time_zone = "Europe/Berlin"
    acme.save(update_fields=["time_zone"])
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    assert _reported(_page(as_responder, incident)).startswith("7 Dec 2026, 10:23 EST")


def test_a_preference_beats_the_browser_and_the_org(as_responder, acme, responder, incident):
    acme.time_zone = "Europe/Berlin"
    acme.save(update_fields=["time_zone"])
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    response = as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    responder.refresh_from_db()
    assert responder.time_zone == "Asia/Tokyo"
    assert _reported(_page(as_responder, incident)) == "8 Dec 2026, 00:23 JST [2026-12-08T00:23:00+09:00]"


def test_a_preference_is_the_persons_not_the_browsers(as_responder, responder, admin, acme, signed_in, incident):
    as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": "Asia/Tokyo"})
    other = signed_in(admin, acme)
    other.cookies[COOKIE_NAME] = "America/New_York"
    assert _reported(_page(other, incident)).startswith("7 Dec 2026, 10:23 EST")


@pytest.mark.parametrize("cookie", ["Mars/Olympus_Mons", "../../etc/passwd", "", "America/New_York" * 20, "<b>"])
def test_a_cookie_that_is_no_time_zone_is_ignored(as_responder, acme, incident, cookie):
    acme.time_zone = "Europe/Berlin"
    acme.save(update_fields=["time_zone"])
    as_responder.cookies[COOKIE_NAME] = cookie
    assert _reported(_page(as_responder, incident)).startswith("7 Dec 2026, 16:23 CET")


# --- The preference -----------------------------------------------------------------------------


def test_the_preferences_page_offers_the_browsers_zone_by_default_naming_the_detected_one(as_responder):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    html = unescape(as_responder.get("/acme/preferences/").content.decode())
    select = html[html.index('<select name="time_zone"') : html.index("</select>", html.index('name="time_zone"'))]
    assert '<option value="">Browser\'s time zone (detected: America/New_York)</option>' in select
    assert '<option value="Asia/Tokyo">Asia/Tokyo</option>' in select
    assert " selected" not in select  # the browser's: the first option


def test_a_chosen_zone_is_shown_selected_and_blank_goes_back_to_the_browsers(as_responder, responder):
    response = as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": "Asia/Tokyo"}, follow=True)
    html = unescape(response.content.decode())
    assert "Times are shown in Asia/Tokyo now." in html
    assert '<option value="Asia/Tokyo" selected>Asia/Tokyo</option>' in html

    response = as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": ""}, follow=True)
    assert "Times are shown in your browser's time zone now." in unescape(response.content.decode())
    responder.refresh_from_db()
    assert responder.time_zone == ""


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "EST5EDT; DROP", "x" * 65])
def test_a_zone_that_does_not_exist_is_refused_and_changes_nothing(as_responder, responder, bad):
    as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": "Asia/Tokyo"})
    response = as_responder.post("/acme/preferences/", {"action": "time_zone", "time_zone": bad})
    assert response.status_code == 400
    html = unescape(response.content.decode())
    error = re.search(r'<small class="error" id="id_time_zone_error">([^<]+)</small>', html)
    assert error, "no error beside the field"
    responder.refresh_from_db()
    assert responder.time_zone == "Asia/Tokyo"
    assert '<option value="Asia/Tokyo" selected>' in html  # what is in use, not the refused value


# --- Forms take local time ----------------------------------------------------------------------


def test_the_debrief_form_names_the_zone_and_takes_local_time(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    form = unescape(as_responder.get(f"/acme/incidents/{incident.public_id}/forms/debrief/").content.decode())
    assert "When (America/New_York)" in form and "(UTC)" not in form

    response = as_responder.post(f"/acme/incidents/{incident.public_id}/debriefs/", {
        "scheduled_at": "2031-03-04T10:00", "duration_minutes": "45",
    })
    assert response.status_code == 302
    assert Debrief.objects.get(incident=incident).scheduled_at == datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
    assert "Tue 4 Mar 2031, 10:00 EST" in _page(as_responder, incident)


def test_the_timestamps_form_shows_and_takes_local_time(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    form = unescape(as_responder.get(f"/acme/incidents/{incident.public_id}/forms/timestamps/").content.decode())
    assert "Reported (America/New_York)" in form
    assert 'value="2026-12-07T10:23"' in form  # 15:23 UTC, as New York's wall clock said it

    response = as_responder.post(f"/acme/incidents/{incident.public_id}/timestamps/", {
        "reported_at": "2026-12-07T10:23", "impact_started_at": "2026-12-07T09:50",
    })
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.reported_at == REPORTED
    assert incident.impact_started_at == datetime(2026, 12, 7, 14, 50, tzinfo=UTC)


@pytest.mark.parametrize("stored", [
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first 01:30 of 1 November in New York
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 EST, the second: the clocks went back at 02:00 EDT
])
def test_a_local_time_the_clocks_repeat_is_read_as_the_stored_one(as_responder, incident, stored):
    Incident.objects.filter(pk=incident.pk).update(reported_at=stored)
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    form = unescape(as_responder.get(f"/acme/incidents/{incident.public_id}/forms/timestamps/").content.decode())
    assert 'value="2026-11-01T01:30"' in form

    # Saving another field leaves the repeated 01:30 as it was; a new repeated time is its first reading.
    response = as_responder.post(f"/acme/incidents/{incident.public_id}/timestamps/", {
        "reported_at": "2026-11-01T01:30", "impact_started_at": "2026-11-01T01:10",
    })
    assert response.status_code == 302, response  # saved: a refusal would be a 303 back to the form
    incident.refresh_from_db()
    assert incident.reported_at == stored
    assert incident.impact_started_at == datetime(2026, 11, 1, 5, 10, tzinfo=UTC)


def test_a_local_time_the_clocks_skip_is_refused(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"
    # 8 March 2026, 02:30 never happens in New York: clocks go from 02:00 to 03:00.
    response = as_responder.post(f"/acme/incidents/{incident.public_id}/debriefs/", {
        "scheduled_at": "2026-03-08T02:30", "duration_minutes": "45",
    })
    assert response.status_code == 303
    page = unescape(as_responder.get(response["Location"]).content.decode())
    assert "America/New_York" in error_next_to(page, "id_scheduled_at")
    assert not Debrief.objects.exists()


# --- What keeps its own zone --------------------------------------------------------------------


def test_the_api_keeps_utc_whatever_the_cookie(acme, incident, client):
    _key, token = api_key_create(org=acme, name="ci", roles=[ApiKeyRole.VIEWER], created_by=None)
    client.cookies[COOKIE_NAME] = "America/New_York"
    response = client.get(f"/api/v2/incidents/{incident.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json()["incident"]["timestamps"]["reported_at"] == "2026-12-07T15:23:00Z"
    timeline = client.get(f"/api/v2/incidents/{incident.public_id}/timeline", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert timeline.status_code == 200, timeline.content
    assert all(event["occurred_at"].endswith("Z") for event in timeline.json()["timeline_events"])


def test_the_digest_schedule_keeps_the_orgs_zone(acme, admin, signed_in):
    acme.time_zone = "Europe/Berlin"
    acme.save(update_fields=["time_zone"])
    client = signed_in(admin, acme)
    client.cookies[COOKIE_NAME] = "America/New_York"
    html = unescape(client.get("/acme/settings/digests/").content.decode())
    now_there = re.search(r"\(it is (\w+ \d\d:\d\d)", html)[1]
    berlin = timezone.now().astimezone(ZoneInfo("Europe/Berlin"))
    # The page was rendered a moment ago: this minute or the one before.
    assert now_there in {f"{berlin:%A %H:%M}", f"{berlin - timedelta(minutes=1):%A %H:%M}"}


# --- Relative times and live durations ----------------------------------------------------------


def test_a_live_incident_shows_its_duration_so_far(as_responder, acme, responder):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Slow")
    Incident.objects.filter(pk=incident.pk).update(reported_at=timezone.now() - timedelta(hours=2, minutes=5, seconds=30))
    html = _page(as_responder, incident)
    assert re.search(r'<dd data-testid="duration">2h 5m so far</dd>', html)


def test_a_resolved_incident_shows_its_duration_without_so_far(as_responder, acme, responder):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Slow")
    resolved = IncidentStatus.objects.filter(org=acme, category=StatusCategory.LEARNING).first() or \
        IncidentStatus.objects.filter(org=acme, category=StatusCategory.CLOSED).first()
    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(
        reported_at=now - timedelta(hours=3), resolved_at=now - timedelta(minutes=50), status=resolved)
    assert '<dd data-testid="duration">2h 10m</dd>' in _page(as_responder, incident)


def test_a_brand_new_incident_was_reported_just_now(as_responder, acme, responder):
    incident_declare(org=acme, actor=Actor.for_user(responder), name="Brand new")
    for page in ("/acme/incidents/", "/acme/"):
        html = unescape(as_responder.get(page).content.decode())
        assert ">just now</time>" in html, page
        assert "0\xa0minutes ago" not in html and "0 minutes ago" not in html, page
