"""Delivery through a real Celery worker on Redis: a 429 is re-queued with its
``Retry-After`` and the worker goes on with other messages meanwhile.

Needs Postgres and REDIS_URL (the worker is another process); see
tests/learning/test_celery_worker.py, whose worker fixture this reuses.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident
from incidentio.incidents.services.incidents import incident_declare
from slackbot.models import OutboxMessage, OutboxState, SlackWorkspace
from slackbot.outbox import outbox_enqueue
from tests.learning.test_celery_worker import _wait_for, celery_worker, worker_launcher  # noqa: F401 - the fixtures
from tests.slack.conftest import BOT_TOKEN, TEAM

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _eager_celery():
    """Overrides the package's eager fixture: here every job goes through Redis."""
    if not django_settings.REDIS_URL:
        pytest.skip("a real Celery worker needs REDIS_URL")
    yield


@pytest.fixture
def slack_worker(fake_slack, monkeypatch, celery_worker_env):
    return celery_worker_env


@pytest.fixture
def celery_worker_env(fake_slack, monkeypatch, request):
    # The worker reads its settings from the environment at start.
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    return request.getfixturevalue("celery_worker")


def test_a_429_is_delivered_after_retry_after_while_the_worker_goes_on(slack_worker, acme, owner, fake_slack):
    actor = Actor.for_user(owner)
    first = incident_declare(org=acme, actor=actor, name="First")
    second = incident_declare(org=acme, actor=actor, name="Second")
    Incident.objects.filter(pk=first.pk).update(slack_channel_id="CFIRST")
    Incident.objects.filter(pk=second.pk).update(slack_channel_id="CSECOND")
    SlackWorkspace.objects.create(org=acme, team_id=TEAM, bot_token=BOT_TOKEN, bot_user_id="UBOT")
    first.refresh_from_db()
    second.refresh_from_db()
    fake_slack.fail("chat.postMessage", status=429, headers={"Retry-After": "2"})

    limited = outbox_enqueue(org=acme, incident=first, kind="test.note", text="rate limited first")
    other = outbox_enqueue(org=acme, incident=second, kind="test.note", text="goes out meanwhile")

    def both_sent():
        return OutboxMessage.objects.filter(pk__in=[limited.pk, other.pk], state=OutboxState.SENT).count() == 2

    _wait_for(both_sent, 30, "both messages to be delivered", slack_worker["log"])
    posts = fake_slack.calls_to("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["CFIRST", "CSECOND", "CFIRST"]
    refused, meanwhile, later = (p.at for p in posts)
    assert meanwhile - refused < 1.5, "the worker waited instead of moving on"
    assert later - refused >= 1.9, "the message was retried before Retry-After"
    limited.refresh_from_db()
    assert limited.attempts == 2 and limited.sent_at is not None
