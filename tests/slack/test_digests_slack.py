"""The scheduled digest in a Slack channel, through the fake Slack Web API
(docs/slack.md, "Destinations"; docs/learning-flow.md, "Digests")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp
from incidentio.incidents.services.follow_ups import follow_up_create
from learning.models import DigestFrequency, DigestSchedule
from learning.tasks import send_due_digests
from slackbot.models import OutboxMessage, OutboxState
from slackbot.tasks import deliver_outbox_message

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
CHANNEL = "CDIGEST01"


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run(moment: datetime) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            send_due_digests(at=moment.isoformat())

    return run


@pytest.fixture
def digest_setup(acme, owner, linked, declare):
    owner.name = "Ann <Lead>"
    owner.save()
    incident = declare(acme, owner, name="<!channel> Checkout & payments")
    item = follow_up_create(incident=incident, actor=Actor.for_user(owner), title="Fix the <retry> loop",
                            assignee=owner)
    FollowUp.objects.filter(pk=item.pk).update(due_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    DigestSchedule.objects.create(org=acme, enabled=True, frequency=DigestFrequency.DAILY, hour=9,
                                  slack_channel=CHANNEL)
    return incident


def test_the_digest_is_posted_once_to_the_chosen_channel(fake_slack, digest_setup, sweep):
    incident = digest_setup

    sweep(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    sweep(datetime(2026, 12, 7, 9, 5, tzinfo=UTC))

    (post,) = fake_slack.posts_in(CHANNEL)
    url = f"{settings.SITE_URL.rstrip('/')}/acme/incidents/{incident.public_id}/"
    assert post["text"].startswith("*Digest for Acme Inc.*: 1 overdue, 0 due in the next 2 days")
    assert "*Ann &lt;Lead&gt;* (1)" in post["text"]
    assert (f"• :red_circle: Fix the &lt;retry&gt; loop (follow-up, overdue since Tue 1 Dec 09:00) · "
            f"<{url}|{incident.reference} &lt;!channel&gt; Checkout &amp; payments>") in post["text"]
    # Not in the incident's channel.
    assert incident.slack_channel_id
    assert not [p for p in fake_slack.posts_in(incident.slack_channel_id) if "Digest" in p["text"]]
    assert OutboxMessage.objects.get(kind="learning.digest").state == OutboxState.SENT

    # The next day: one more post.
    sweep(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert len(fake_slack.posts_in(CHANNEL)) == 2


def test_a_digest_whose_answer_was_lost_is_found_in_the_channel_not_posted_again(fake_slack, digest_setup, sweep):
    # Slack posts it but the answer is a 503: the delivery is in doubt.
    fake_slack.fail("chat.postMessage", status=503, accepted=True)
    sweep(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    message = OutboxMessage.objects.get(kind="learning.digest")
    assert message.state == OutboxState.PENDING and message.in_doubt_since is not None

    deliver_outbox_message.apply(args=[message.pk])

    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert len(fake_slack.posts_in(CHANNEL)) == 1


def test_a_channel_slack_refuses_fails_the_message_for_the_admin_to_see(fake_slack, digest_setup, sweep):
    fake_slack.fail("chat.postMessage", error="channel_not_found")

    sweep(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    message = OutboxMessage.objects.get(kind="learning.digest")
    assert message.state == OutboxState.FAILED
    assert "channel_not_found" in message.last_error
    assert message.destination == f"channel:{CHANNEL}"


def test_the_preview_goes_to_the_admin_as_a_slack_dm(acme, admin, fake_slack, digest_setup, signed_in,
                                                     django_capture_on_commit_callbacks):
    client = signed_in(admin, acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/acme/settings/digests/", {"action": "preview"})
    assert response.status_code == 302

    (post,) = fake_slack.posts_in("DUADMIN")
    assert post["text"].startswith("*Preview of your digest for Acme Inc.*: 1 overdue")
    assert fake_slack.posts_in(CHANNEL) == []
    assert DigestSchedule.objects.get(org=acme).last_period == ""
