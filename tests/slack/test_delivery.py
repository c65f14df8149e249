"""Outbox delivery to the fake Slack: rate limits, errors, the per-channel slot,
DMs and their e-mail fallback, and the settings page listing failures."""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.db import transaction

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_post_update
from slackbot.models import OutboxMessage, OutboxState, SlackUserLink, SlackWorkspace
from slackbot.outbox import outbox_enqueue
from slackbot.tasks import deliver_outbox_message
from slackbot.transports import ChannelBusy, ConsoleTransport, channel_name, get_transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(acme, owner, linked, declare):
    return declare(acme, owner)


def _queue(incident, text="hello", destination="incident_channel", capture=None):
    message = outbox_enqueue(org=incident.org, incident=incident, kind="test.note", text=text, destination=destination)
    return message


def test_messages_go_to_the_console_until_a_workspace_is_connected(acme, owner, declare, fake_slack, caplog):
    incident = declare(acme, owner)
    message = OutboxMessage(org=acme, incident=incident, kind="x", text="hi")
    assert isinstance(get_transport(message), ConsoleTransport)
    assert fake_slack.calls == []
    assert incident.slack_channel_id == ""


def test_the_bot_token_is_read_back_decrypted_for_every_call(incident, fake_slack):
    from tests.slack.conftest import BOT_TOKEN
    from tests.stored import stored_value

    workspace = SlackWorkspace.objects.get(org=incident.org)
    assert BOT_TOKEN not in stored_value(workspace, "bot_token")
    assert fake_slack.calls and {call.token for call in fake_slack.calls} == {BOT_TOKEN}


def test_channel_is_named_after_the_incident(acme, owner, declare, fake_slack):
    incident = declare(acme, owner, name="Database latency / EU!")
    assert channel_name(incident) == f"inc-{incident.number}-database-latency-eu"


def test_a_rolled_back_change_sends_nothing(incident, fake_slack, django_capture_on_commit_callbacks, owner):
    before = len(fake_slack.calls)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                incident_post_update(incident=incident, actor=Actor.for_user(owner), message="never")
                raise RuntimeError("rolled back")
    assert len(fake_slack.calls) == before
    assert not OutboxMessage.objects.filter(kind="incident.update_posted").exists()


def test_rate_limited_message_is_rescheduled_after_retry_after_without_sleeping(incident, fake_slack, django_capture_on_commit_callbacks):
    fake_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "2"})
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(incident)
    assert time.monotonic() - started < 1.5  # nobody slept for Retry-After
    message.refresh_from_db()
    assert message.state == OutboxState.PENDING and message.attempts == 1
    assert "rate limited" in message.last_error
    # Later (the worker's countdown, or the beat) it goes out.
    assert deliver_outbox_message.apply(args=[message.pk]).get() == "sent"
    message.refresh_from_db()
    assert message.state == OutboxState.SENT


def test_rate_limit_countdown_is_retry_after(incident, fake_slack, monkeypatch):
    """Outside eager mode the task re-queues itself with ``countdown=Retry-After``."""
    fake_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "2"})
    message = _queue(incident)
    seen = {}

    def retry(countdown=None, **kwargs):
        seen["countdown"] = countdown
        return RuntimeError("retry")

    monkeypatch.setattr(deliver_outbox_message, "retry", retry)
    deliver_outbox_message.push_request(is_eager=False, retries=0)
    try:
        with pytest.raises(RuntimeError):
            deliver_outbox_message.run(message.pk)
    finally:
        deliver_outbox_message.pop_request()
    assert seen["countdown"] == 2


def test_server_errors_are_retried_then_delivered(incident, fake_slack, django_capture_on_commit_callbacks):
    fake_slack.fail("chat.postMessage", status=503)
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(incident)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.PENDING, 1)
    deliver_outbox_message.apply(args=[message.pk])
    message.refresh_from_db()
    assert message.state == OutboxState.SENT


def test_permanent_error_is_recorded_and_listed_on_the_settings_page(incident, fake_slack, admin, signed_in, acme,
                                                                     django_capture_on_commit_callbacks):
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(incident, text="Lost in space")
    message.refresh_from_db()
    assert message.state == OutboxState.FAILED and "channel_not_found" in message.last_error

    client = signed_in(admin, acme)
    page = client.get("/acme/settings/slack/")
    assert page.status_code == 200
    assert b"Lost in space" in page.content and b"channel_not_found" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/acme/settings/slack/", {"action": "retry", "id": str(message.public_id)})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == OutboxState.SENT


def test_settings_page_is_for_admins(acme, responder, outsider, signed_in, fake_slack, globex):
    assert signed_in(responder, acme).get("/acme/settings/slack/").status_code == 403
    assert signed_in(outsider, globex).get("/acme/settings/slack/").status_code in (302, 404)


def test_retry_of_another_orgs_message_is_404(incident, admin, acme, signed_in, outsider, globex):
    message = _queue(incident)
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxState.FAILED)
    client = signed_in(outsider, globex)
    assert client.post("/globex/settings/slack/", {"action": "retry", "id": str(message.public_id)}).status_code == 404


def test_revoked_token_marks_the_workspace(incident, fake_slack, workspace, django_capture_on_commit_callbacks):
    fake_slack.fail("chat.postMessage", error="token_revoked")
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(incident)
    message.refresh_from_db()
    assert message.state == OutboxState.FAILED
    workspace.refresh_from_db()
    assert workspace.token_invalid_at is not None


def test_one_message_per_second_per_channel(incident, acme, owner, declare, fake_slack, settings,
                                            django_capture_on_commit_callbacks):
    other = declare(acme, owner, name="Other incident")
    settings.SLACK_CHANNEL_SLOT_SECONDS = 1
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue(incident, "one")
        second = _queue(incident, "two")
        elsewhere = _queue(other, "three")
    for m in (first, second, elsewhere):
        m.refresh_from_db()
    assert (first.state, second.state, elsewhere.state) == (OutboxState.SENT, OutboxState.PENDING, OutboxState.SENT)
    assert second.attempts == 0 and "busy" in second.last_error
    assert second.in_doubt_since is None and second.lease_expires_at is None, "nothing was posted: nothing to look for"
    # A second later the slot is free again (the database cache counts whole
    # seconds, so allow up to three).
    started = time.monotonic()
    while deliver_outbox_message.apply(args=[second.pk]).get() != "sent":
        assert time.monotonic() - started < 3, "the channel's slot never came free"
        time.sleep(0.2)


def test_dm_looks_up_the_slack_user_by_email_once(acme, owner, responder, workspace, declare, fake_slack,
                                                  django_capture_on_commit_callbacks):
    incident = declare(acme, owner)
    fake_slack.users["URESP"] = responder.email
    with django_capture_on_commit_callbacks(execute=True):
        _queue(incident, "for you", destination=f"dm:{responder.pk}")
        _queue(incident, "again", destination=f"dm:{responder.pk}")
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
    assert SlackUserLink.objects.get(org=acme, user=responder).slack_user_id == "URESP"
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")][-2:] == ["DURESP", "DURESP"]


def test_dm_falls_back_to_email_without_a_slack_user(acme, owner, responder, workspace, declare, fake_slack,
                                                     django_capture_on_commit_callbacks):
    incident = declare(acme, owner)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(incident, "Your task", destination=f"dm:{responder.pk}")
    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert [m.to for m in mail.outbox] == [[responder.email]]
    assert not fake_slack.calls_to("conversations.open")


def test_slack_connect_command_binds_a_workspace(acme, fake_slack):
    from django.core.management import call_command

    call_command("slack_connect", "--org", "acme", "--team-id", "T0001", "--bot-token", "xoxb-abc", "--check")
    workspace = SlackWorkspace.objects.get(org=acme)
    assert (workspace.team_id, workspace.bot_user_id, workspace.team_name) == ("T0001", "UBOT", "Acme")
    assert fake_slack.calls_to("auth.test")[0].token == "xoxb-abc"


def test_a_message_deferred_too_often_stays_pending_for_the_beat(incident, fake_slack, settings, monkeypatch):
    """After MAX_ATTEMPTS + MAX_DEFERRALS busy-channel retries the job stops; the message
    stays pending (the beat re-queues it) and no in-process timer is started in a worker."""
    from slackbot import tasks as slack_tasks

    settings.SLACK_CHANNEL_SLOT_SECONDS = 60
    message = _queue(incident)
    Transport = type(get_transport(message))
    monkeypatch.setattr(Transport, "take_slot", lambda self, channel: (_ for _ in ()).throw(ChannelBusy(channel)))
    timers = []
    monkeypatch.setattr(slack_tasks, "_retry_in_process_later", lambda *args: timers.append(args))
    deliver_outbox_message.push_request(is_eager=False, retries=slack_tasks.MAX_ATTEMPTS + slack_tasks.MAX_DEFERRALS)
    try:
        assert deliver_outbox_message.run(message.pk) == "deferred"
    finally:
        deliver_outbox_message.pop_request()
    message.refresh_from_db()
    assert message.state == OutboxState.PENDING and "busy" in message.last_error
    assert timers == []
