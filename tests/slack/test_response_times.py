"""Listeners answer well inside Slack's 3 s, also when the Web API is slow, and
the same delivery arriving concurrently applies once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from incidentio.incidents.models import EventKind, Incident, TimelineEvent
from slackbot.models import OutboxMessage
from tests.slack.conftest import reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_celery():
    """Celery as in production: ``delay()`` only queues (an in-memory broker
    here, nobody consumes), instead of running the job in the request."""
    from incidentio.config.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://localhost/"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.task_always_eager, app.conf.broker_url = saved
    app._pool = None
    app.amqp._producer_pool = None


def test_fifty_commands_answer_in_under_a_second_while_slack_takes_two(slack, linked, acme, owner, declare, queued_celery):
    incident = declare(acme, owner)  # Celery only queues here: give it its channel by hand
    Incident.objects.filter(pk=incident.pk).update(slack_channel_id="CFAST")
    incident.slack_channel_id = "CFAST"
    slack.fake.delay = 2.0
    slowest = 0.0
    for n in range(50):
        text = f"update step {n}" if n % 2 else "status"
        started = time.monotonic()
        response = slack.command(text, channel=incident.slack_channel_id)  # on-commit hooks run: they only queue
        slowest = max(slowest, time.monotonic() - started)
        assert response.status_code == 200, response.content
    assert slowest < 1.0, f"slowest response took {slowest:.2f}s"
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.UPDATE_POSTED).count() == 25
    assert OutboxMessage.objects.filter(kind="incident.update_posted", state="pending").count() == 25


def test_declare_acks_at_once_while_views_open_is_slow(slack, linked, queued_celery):
    slack.fake.delay = 2.0
    started = time.monotonic()
    reply(slack.command("declare Slow Slack"))
    assert time.monotonic() - started < 1.0


@pytest.mark.django_db(transaction=True)
def test_same_command_four_times_two_concurrently_applies_once(slack, linked, acme, owner, declare):
    incident = declare(acme, owner)
    body = slack.command_body("update Exactly once", channel=incident.slack_channel_id)
    posts_before = len(slack.fake.calls_to("chat.postMessage"))
    statuses = []

    def send(retry):
        client = Client()
        from tests.slack.conftest import sign

        headers = {"HTTP_X_SLACK_RETRY_NUM": str(retry)} if retry else {}
        try:
            statuses.append(client.post("/slack/events", data=body, content_type="application/x-www-form-urlencoded",
                                        **sign(body), **headers).status_code)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send(2)
    send(3)
    assert statuses == [200, 200, 200, 200]
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, text="Exactly once").count() == 1
    deadline = time.monotonic() + 5
    while len(slack.fake.calls_to("chat.postMessage")) < posts_before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(slack.fake.calls_to("chat.postMessage")) == posts_before + 1
