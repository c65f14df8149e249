"""Each outbox message is posted to Slack once, also when the answer to a post is
lost or the worker posting it dies: every post carries its outbox id as message
metadata, and before posting again the channel's history is searched for it
(docs/slack.md "Exactly once"). The same with real processes and kill -9:
``tests/reliability/test_faults.py::test_faults_worker_sigkill_mid_delivery``."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from slackbot import tasks as slack_tasks
from slackbot.client import slack_client
from slackbot.models import OutboxMessage, OutboxState, SlackMessage
from slackbot.outbox import outbox_enqueue
from slackbot.tasks import deliver_outbox_message, deliver_pending_outbox
from slackbot.transports import OUTBOX_EVENT_TYPE, DeliveryAttempt
from tests.slack.conftest import BOT_TOKEN, RESPONDER

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(acme, owner, linked, declare):
    incident = declare(acme, owner)
    assert incident.slack_channel_id, "declaring creates the incident's channel"
    return incident


def queue(incident, text: str, destination: str = "incident_channel") -> OutboxMessage:
    return outbox_enqueue(org=incident.org, incident=incident, kind="test.note", text=text, destination=destination)


def deliver(message: OutboxMessage) -> str:
    return deliver_outbox_message.apply(args=[message.pk]).get()


def posts_of(fake_slack, channel: str, text: str) -> list[dict]:
    return [m for m in fake_slack.posts_in(channel) if m["text"] == text]


def post_calls(fake_slack, text: str) -> int:
    return sum(1 for c in fake_slack.calls_to("chat.postMessage") if c.params.get("text") == text)


def test_every_post_carries_its_outbox_id_and_a_plain_delivery_reads_no_history(incident, fake_slack):
    message = queue(incident, "Postmortem is due Friday")
    assert deliver(message) == "sent"
    [post] = posts_of(fake_slack, incident.slack_channel_id, "Postmortem is due Friday")
    assert post["metadata"] == {"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": str(message.public_id)}}
    assert fake_slack.calls_to("conversations.history") == []
    message.refresh_from_db()
    assert (message.state, message.lease_expires_at, message.in_doubt_since) == (OutboxState.SENT, None, None)


def test_a_post_whose_answer_was_lost_is_found_not_posted_again(incident, fake_slack):
    channel = incident.slack_channel_id
    fake_slack.fail("chat.postMessage", status=503, accepted=True)  # posted, but the answer is a 503
    message = queue(incident, "Debrief scheduled for Tuesday")
    assert deliver(message) == "deferred"
    message.refresh_from_db()
    assert message.state == OutboxState.PENDING and message.in_doubt_since is not None
    assert message.lease_expires_at is None, "a retry may go at once"
    assert len(posts_of(fake_slack, channel, "Debrief scheduled for Tuesday")) == 1

    assert deliver(message) == "sent"

    [post] = posts_of(fake_slack, channel, "Debrief scheduled for Tuesday")
    assert post_calls(fake_slack, "Debrief scheduled for Tuesday") == 1, "the retry found the post and did not post"
    assert SlackMessage.objects.get(outbox=message).ts == post["ts"]
    message.refresh_from_db()
    assert (message.state, message.in_doubt_since) == (OutboxState.SENT, None)


def test_a_post_that_never_reached_slack_is_posted_once_after_looking(incident, fake_slack):
    channel = incident.slack_channel_id
    fake_slack.fail("chat.postMessage", status=503)  # refused: nothing posted
    message = queue(incident, "Timeline reviewed")
    assert deliver(message) == "deferred"
    assert posts_of(fake_slack, channel, "Timeline reviewed") == []

    assert deliver(message) == "sent"

    assert len(posts_of(fake_slack, channel, "Timeline reviewed")) == 1
    assert len(fake_slack.calls_to("conversations.history")) == 1
    history = fake_slack.calls_to("conversations.history")[0].params
    assert history["channel"] == channel and history["include_all_metadata"] in ("1", "true", True)


def test_a_killed_workers_message_waits_for_its_lease_then_is_found_in_the_channel(incident, fake_slack):
    channel = incident.slack_channel_id
    message = queue(incident, "Action items filed")  # not delivered: nothing ran on commit
    # What a worker killed right after Slack took its post leaves behind: its
    # committed claim, and the post (its answer and the commit died with it).
    slack_tasks._claim(message.pk)
    slack_client(BOT_TOKEN).chat_postMessage(
        channel=channel, text="Action items filed",
        metadata={"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": str(message.public_id)}},
    )
    calls = len(fake_slack.calls)

    # While the lease runs, a redelivered job leaves the message alone, without a Slack call.
    assert deliver(message) == "in flight"
    assert len(fake_slack.calls) == calls

    # The lease runs out; the beat re-queues the pending message.
    OutboxMessage.objects.filter(pk=message.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    deliver_pending_outbox(older_than_seconds=0)

    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    [post] = posts_of(fake_slack, channel, "Action items filed")
    assert post_calls(fake_slack, "Action items filed") == 1
    assert SlackMessage.objects.get(outbox=message).ts == post["ts"]


def test_a_dm_whose_answer_was_lost_is_not_sent_twice(incident, fake_slack, responder):
    fake_slack.fail("chat.postMessage", status=502, accepted=True)
    message = queue(incident, "You have a task", destination=f"dm:{responder.pk}")
    assert deliver(message) == "deferred"
    assert deliver(message) == "sent"
    assert len(posts_of(fake_slack, f"D{RESPONDER}", "You have a task")) == 1
    assert post_calls(fake_slack, "You have a task") == 1


def test_without_the_history_scopes_a_lost_post_is_posted_again_with_a_warning(incident, fake_slack, caplog):
    """A workspace installed before the history scopes: better twice than never."""
    channel = incident.slack_channel_id
    fake_slack.fail("chat.postMessage", status=503, accepted=True)
    fake_slack.fail("conversations.history", error="missing_scope")
    message = queue(incident, "Review meeting booked")
    assert deliver(message) == "deferred"
    with caplog.at_level(logging.WARNING, logger="incidentio.slack"):
        assert deliver(message) == "sent"
    assert len(posts_of(fake_slack, channel, "Review meeting booked")) == 2
    assert "reinstall the app" in caplog.text


def test_a_failing_history_search_retries_without_posting(incident, fake_slack):
    channel = incident.slack_channel_id
    fake_slack.fail("chat.postMessage", status=503, accepted=True)
    fake_slack.fail("conversations.history", status=500)
    message = queue(incident, "Runbook updated")
    assert deliver(message) == "deferred"
    assert deliver(message) == "deferred"  # could not look: do not post blind
    message.refresh_from_db()
    assert message.in_doubt_since is not None and message.state == OutboxState.PENDING
    assert deliver(message) == "sent"
    assert len(posts_of(fake_slack, channel, "Runbook updated")) == 1


def test_a_post_that_got_no_answer_at_all_is_left_to_settle_before_looking(incident, fake_slack):
    """A timeout or a dropped connection: Slack may still be finishing the post,
    so nobody looks for it (or posts) until it has surely landed."""
    channel = incident.slack_channel_id
    fake_slack.fail("chat.postMessage", drop=True, accepted=True)
    message = queue(incident, "Customer comms sent")
    assert deliver(message) == "deferred"
    message.refresh_from_db()
    assert (message.lease_expires_at - timezone.now()).total_seconds() > 20
    calls = len(fake_slack.calls)
    assert deliver(message) == "in flight"
    assert len(fake_slack.calls) == calls

    OutboxMessage.objects.filter(pk=message.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert deliver(message) == "sent"
    assert len(posts_of(fake_slack, channel, "Customer comms sent")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_outlasts_its_lease_records_nothing_and_undoes_nothing(acme, owner, linked, declare,
                                                                              fake_slack, settings, monkeypatch):
    """Worker A takes too long; its lease runs out and worker B takes the message.
    A's late post is not recorded (B finds it in the channel and records it), and
    A's late give-up does not touch B's attempt. Real commits (transaction=True)."""
    incident = declare(acme, owner)
    channel = incident.slack_channel_id
    settings.SLACK_DELIVERY_LEASE_SECONDS = 1
    message = OutboxMessage.objects.create(org=acme, incident=incident, kind="test.note", text="Status page updated")

    message_a, late = slack_tasks._claim(message.pk)
    time.sleep(1.1)  # A's lease runs out
    settings.SLACK_DELIVERY_LEASE_SECONDS = 120
    message_b, current = slack_tasks._claim(message.pk)
    assert current.recovering_since is not None, "B knows A may have posted"

    # A started its post while the lease had time left; what came after it (the
    # permalink, the commit) is what ran late.
    monkeypatch.setattr(DeliveryAttempt, "check_time_left", lambda self, seconds: None)
    with pytest.raises(slack_tasks.LeaseLost):
        slack_tasks._send(message_a, late)  # A posts, then finds it no longer holds the message
    monkeypatch.undo()
    assert not SlackMessage.objects.filter(outbox=message).exists(), "A's record was rolled back"
    assert slack_tasks._release(message_a, late, error="late", count_attempt=True) is None

    slack_tasks._send(message_b, current)  # B finds A's post instead of posting

    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == (OutboxState.SENT, 1, "")
    [post] = posts_of(fake_slack, channel, "Status page updated")
    assert post_calls(fake_slack, "Status page updated") == 1
    assert SlackMessage.objects.get(outbox=message).ts == post["ts"]
