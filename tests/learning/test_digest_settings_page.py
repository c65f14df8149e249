"""Settings → Digests through the Django test client: admins only, bad input
refused with a clear error and nothing saved, another org's admin sees nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp, Severity
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import DigestSchedule
from learning.services import digests
from learning.tasks import send_due_digests
from slackbot.models import SlackWorkspace

pytestmark = pytest.mark.django_db

URL = "/acme/settings/digests/"


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The outbox delivers in-process, on commit."""


@pytest.fixture
def tokyo(acme):
    acme.time_zone = "Asia/Tokyo"
    acme.save(update_fields=["time_zone"])
    return acme


def valid(**changes) -> dict:
    data = {"action": "save", "enabled": "on", "frequency": "weekly", "weekday": "0", "hour": "9",
            "emails": "team@acme.test, lead@partner.test\nops@acme.test"}
    data.update(changes)
    return data


def test_admin_sees_the_hour_in_the_orgs_time_zone_and_an_example(tokyo, admin, signed_in):
    response = signed_in(admin, tokyo).get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Hour (Asia/Tokyo time)" in page
    assert "<strong>Asia/Tokyo</strong>" in page
    assert "Send a preview now" in page
    assert "Example" in page
    assert "Connect Slack" in page  # no workspace: no channel field
    assert 'name="slack_channel"' not in page


def test_saving_a_weekly_digest(tokyo, admin, signed_in):
    client = signed_in(admin, tokyo)

    response = client.post(URL, valid(weekday="4", hour="17"))

    assert response.status_code == 302
    schedule = DigestSchedule.objects.get(org=tokyo)
    assert (schedule.enabled, schedule.frequency, schedule.weekday, schedule.hour) == (True, "weekly", 4, 17)
    assert schedule.emails == ["team@acme.test", "lead@partner.test", "ops@acme.test"]
    page = client.get(URL).content.decode()
    assert "Next digest: <strong>Friday" in page and "17:00</strong> (Asia/Tokyo)" in page


def test_invalid_addresses_are_named_and_nothing_is_saved(tokyo, admin, signed_in):
    client = signed_in(admin, tokyo)
    client.post(URL, valid())

    response = client.post(URL, valid(hour="11", emails="good@acme.test, not-an-address\n@nowhere"))

    assert response.status_code == 400
    page = response.content.decode()
    assert "Not an e-mail address: “not-an-address”, “@nowhere”" in page
    schedule = DigestSchedule.objects.get(org=tokyo)
    assert schedule.hour == 9
    assert schedule.emails == ["team@acme.test", "lead@partner.test", "ops@acme.test"]


def test_an_hour_out_of_range_is_refused(tokyo, admin, signed_in):
    response = signed_in(admin, tokyo).post(URL, valid(hour="24"))

    assert response.status_code == 400
    assert not DigestSchedule.objects.filter(org=tokyo, enabled=True).exists()


def test_the_slack_channel_is_an_id_or_a_link(tokyo, admin, signed_in):
    SlackWorkspace.objects.create(org=tokyo, team_id="T0001", bot_token="xoxb-test", team_name="Acme")
    client = signed_in(admin, tokyo)
    assert 'name="slack_channel"' in client.get(URL).content.decode()

    response = client.post(URL, valid(slack_channel="#incidents"))
    assert response.status_code == 400
    assert "Give the channel&#x27;s ID" in response.content.decode()
    assert not DigestSchedule.objects.filter(org=tokyo, enabled=True).exists()

    assert client.post(URL, valid(slack_channel="https://acme.slack.com/archives/C0DIGEST42")).status_code == 302
    assert DigestSchedule.objects.get(org=tokyo).slack_channel == "C0DIGEST42"
    assert client.post(URL, valid(slack_channel="c0other1")).status_code == 302
    assert DigestSchedule.objects.get(org=tokyo).slack_channel == "C0OTHER1"


def test_only_admins_may_see_or_change_it(tokyo, responder, signed_in):
    client = signed_in(responder, tokyo)

    assert client.get(URL).status_code == 403
    assert client.post(URL, valid()).status_code == 403
    assert not DigestSchedule.objects.filter(org=tokyo, enabled=True).exists()


def test_another_orgs_admin_cannot_see_or_edit_the_schedule(tokyo, admin, outsider, globex, signed_in):
    signed_in(admin, tokyo).post(URL, valid(hour="7"))
    client = signed_in(outsider, globex)

    # Not a member of acme: sent to sign in, as for an org that does not exist.
    for response in (client.get(URL), client.post(URL, valid(hour="13", emails="thief@globex.test")),
                     client.post(URL, {"action": "preview"})):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    schedule = DigestSchedule.objects.get(org=tokyo)
    assert (schedule.hour, schedule.emails[0]) == (7, "team@acme.test")
    # Their own page shows their own (new, empty) schedule.
    page = client.get("/globex/settings/digests/").content.decode()
    assert "team@acme.test" not in page


def test_turning_it_on_after_the_hour_waits_for_the_next_slot(tokyo, admin, owner, signed_in, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    incident = incident_declare(org=tokyo, actor=Actor.for_user(owner), name="Latency",
                                severity=Severity.objects.get(org=tokyo, name="Minor"))
    item = follow_up_create(incident=incident, actor=Actor.for_user(owner), title="Overdue work")
    FollowUp.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(days=1))
    now = timezone.now()
    passed_hour = (now.astimezone(digests.org_zone(tokyo)) - timedelta(hours=1)).hour
    signed_in(admin, tokyo).post(URL, valid(frequency="daily", hour=str(passed_hour), emails="team@acme.test"))

    with django_capture_on_commit_callbacks(execute=True):
        send_due_digests()
    assert mailoutbox == []

    tomorrow = now + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        send_due_digests(at=tomorrow.isoformat())
    assert [m.to for m in mailoutbox] == [["team@acme.test"]]
    assert "Last digest:" in signed_in(admin, tokyo).get(URL).content.decode()


def test_the_preview_is_emailed_to_the_admin_without_taking_the_period(tokyo, admin, owner, signed_in, mailoutbox,
                                                                      django_capture_on_commit_callbacks):
    admin.name = "Ada Admin"
    admin.save()
    incident = incident_declare(org=tokyo, actor=Actor.for_user(owner), name="Latency",
                                severity=Severity.objects.get(org=tokyo, name="Minor"))
    item = follow_up_create(incident=incident, actor=Actor.for_user(owner), title="Overdue work")
    FollowUp.objects.filter(pk=item.pk).update(due_at=datetime(2026, 1, 1, tzinfo=digests.org_zone(tokyo)))
    client = signed_in(admin, tokyo)
    client.post(URL, valid(emails="team@acme.test"))
    period_before = DigestSchedule.objects.get(org=tokyo).last_period

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"action": "preview"}, follow=True)

    assert "A preview (1 item) is on its way to you by e-mail" in response.content.decode()
    (mail,) = mailoutbox
    assert mail.to == [admin.email]
    assert mail.subject == "[incidentio] Preview: Acme Inc. digest"
    assert mail.body.startswith("Preview of your digest for Acme Inc.: 1 overdue, 0 due in the next 7 days.")
    assert "- OVERDUE Overdue work (follow-up, overdue since Thu 1 Jan 00:00)" in mail.body
    assert DigestSchedule.objects.get(org=tokyo).last_period == period_before
