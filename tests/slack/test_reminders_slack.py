"""Reminder DMs in Slack and their buttons: Snooze 1 day / 1 week / until a date, Mark done.

The sweep runs through its Celery task; the DM reaches the fake Slack; the
clicks are signed requests through the real Bolt handler.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, Severity, TimelineEvent
from learning.models import LearningTask, TaskState
from learning.services.flow import incident_close
from learning.tasks import send_due_reminders
from slackbot import blocks as kit
from tests.slack.conftest import RESPONDER, TEAM, VIEWER

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(acme, owner, responder, linked, declare, django_capture_on_commit_callbacks):
    incident = declare(acme, owner, severity=Severity.objects.get(org=acme, name="Minor"), lead=responder)
    with django_capture_on_commit_callbacks(execute=True):
        incident_close(incident=incident, actor=Actor.for_user(owner), learning_flow="run")
    task = LearningTask.objects.filter(incident=incident).order_by("rank", "pk").first()
    task.due_at = timezone.now() - timedelta(hours=1)
    task.save(update_fields=["due_at"])
    return task


@pytest.fixture
def reminded(task, slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_reminders() == 1
    return task


def _reminder_posts(fake):
    return [c for c in fake.calls_to("chat.postMessage") if "is due now" in c.params.get("text", "")]


def _blocks(call) -> list:
    blocks = call.params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _date_pick(slack, task, day: str, *, user: str = RESPONDER):
    payload = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "name": user.lower(), "team_id": TEAM}, "api_app_id": "A0001",
        "trigger_id": f"trigger.{time.time_ns()}", "channel": {"id": f"D{user}"},
        "container": {"type": "message", "channel_id": f"D{user}", "message_ts": "1.1"},
        "response_url": slack.fake.response_url(99),
        "actions": [{"action_id": kit.REMINDER_SNOOZE_DATE, "block_id": f"reminder:task:{task.public_id}",
                     "type": "datepicker", "selected_date": day, "action_ts": f"{time.time():.6f}"}],
    }
    return slack.post(urlencode({"payload": json.dumps(payload)}))


def test_the_reminder_is_a_dm_to_the_owner_with_snooze_and_done_buttons(reminded, slack):
    posts = _reminder_posts(slack.fake)
    assert [p.params["channel"] for p in posts] == [f"D{RESPONDER}"]
    elements = [e for b in _blocks(posts[0]) if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in elements] == [kit.REMINDER_DONE, kit.REMINDER_SNOOZE_DAY,
                                                  kit.REMINDER_SNOOZE_WEEK, kit.REMINDER_SNOOZE_DATE]
    assert f"/acme/incidents/{reminded.incident.public_id}/" in json.dumps(_blocks(posts[0]))


def test_snooze_one_day_from_the_dm_snoozes_records_and_replaces_the_dm(reminded, slack):
    before = timezone.now()
    slack.action(kit.REMINDER_SNOOZE_DAY, value=f"task:{reminded.public_id}", user=RESPONDER,
                 channel=f"D{RESPONDER}")
    reminded.refresh_from_db()
    assert before + timedelta(days=1) <= reminded.snoozed_until <= timezone.now() + timedelta(days=1)
    event = TimelineEvent.objects.get(incident=reminded.incident, kind=EventKind.REMINDER_SNOOZED)
    assert event.actor_user.email == "responder@acme.test"
    answer = slack.fake.calls_to("response_url")[-1].params
    assert answer["replace_original"] is True and answer["text"].startswith("Snoozed")


def test_snooze_until_a_picked_date_is_nine_in_the_orgs_time_zone(reminded, slack, acme):
    acme.time_zone = "America/New_York"
    acme.save(update_fields=["time_zone"])
    day = date.today() + timedelta(days=10)
    _date_pick(slack, reminded, day.isoformat())
    reminded.refresh_from_db()
    local = reminded.snoozed_until.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (day, 9, 0)


def test_a_date_in_the_past_is_refused_and_changes_nothing(reminded, slack):
    _date_pick(slack, reminded, (date.today() - timedelta(days=2)).isoformat())
    reminded.refresh_from_db()
    assert reminded.snoozed_until is None
    assert "future" in slack.fake.calls_to("response_url")[-1].params["text"]


def test_someone_elses_reminder_cannot_be_snoozed_by_a_viewer(reminded, slack):
    slack.action(kit.REMINDER_SNOOZE_WEEK, value=f"task:{reminded.public_id}", user=VIEWER)
    reminded.refresh_from_db()
    assert reminded.snoozed_until is None
    assert "isn't yours" in slack.fake.calls_to("response_url")[-1].params["text"]


def test_another_orgs_item_is_not_found(reminded, slack, globex, outsider, django_capture_on_commit_callbacks):
    from incidentio.incidents.services.follow_ups import follow_up_create
    from incidentio.incidents.services.incidents import incident_declare

    theirs = incident_declare(org=globex, actor=Actor.for_user(outsider), name="Theirs")
    follow_up = follow_up_create(incident=theirs, actor=Actor.for_user(outsider), title="Secret")
    slack.action(kit.REMINDER_SNOOZE_DAY, value=f"follow_up:{follow_up.public_id}", user=RESPONDER)
    follow_up.refresh_from_db()
    assert follow_up.snoozed_until is None
    assert "no longer exists" in slack.fake.calls_to("response_url")[-1].params["text"]


def test_mark_done_from_the_dm_completes_the_task(reminded, slack):
    slack.action(kit.REMINDER_DONE, value=f"task:{reminded.public_id}", user=RESPONDER)
    reminded.refresh_from_db()
    assert reminded.state == TaskState.COMPLETED
    assert slack.fake.calls_to("response_url")[-1].params["text"].startswith("Done")
