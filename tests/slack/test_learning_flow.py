"""The close prompt, task commands and buttons, and the task message kept in place."""

from __future__ import annotations

import json

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, LearningFlowState, Severity, StatusCategory, TimelineEvent
from learning.models import LearningTask, TaskState
from learning.services.flow import incident_close
from learning.services.tasks import task_complete
from slackbot import blocks as kit
from slackbot.models import OutboxMessage, SlackMessage
from tests.slack.conftest import ADMIN, STRANGER, VIEWER, reply

pytestmark = pytest.mark.django_db


def _view(call) -> dict:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _blocks(call) -> list:
    blocks = call.params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


@pytest.fixture
def live(acme, owner, linked, declare):
    return declare(acme, owner, severity=Severity.objects.get(org=acme, name="Minor"))


@pytest.fixture
def in_flow(live, slack, django_capture_on_commit_callbacks, owner):
    with django_capture_on_commit_callbacks(execute=True):
        incident_close(incident=live, actor=Actor.for_user(owner), learning_flow="run")
    live.refresh_from_db()
    return live


def test_close_asks_whether_to_run_the_learning_flow(slack, live):
    answer = reply(slack.command("close", channel=live.slack_channel_id))
    assert "Run the learning flow?" in json.dumps(answer["blocks"])
    action_ids = [e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert action_ids == [kit.CLOSE_RUN_FLOW, kit.CLOSE_WITHOUT_FLOW]
    live.refresh_from_db()
    assert live.is_live  # asking changes nothing


def test_run_the_learning_flow_button_posts_the_task_message(slack, live):
    slack.action(kit.CLOSE_RUN_FLOW, value=str(live.public_id), channel=live.slack_channel_id)
    live.refresh_from_db()
    assert live.learning_flow == LearningFlowState.RUNNING and live.status.name == "Documenting"
    posted = [c for c in slack.fake.calls_to("chat.postMessage") if "Documenting" in c.params["text"]]
    assert len(posted) == 1
    action_ids = {e["action_id"] for b in _blocks(posted[0]) if b["type"] == "actions" for e in b["elements"]}
    assert action_ids == {kit.TASK_DONE, kit.TASK_NOT_DOING, kit.TASK_ASSIGN}
    assert SlackMessage.objects.filter(incident=live, key__startswith="tasks:").count() == 1
    assert slack.fake.calls_to("response_url")[-1].params["replace_original"] is True


def test_close_without_it_opens_a_reason_modal_and_requires_a_reason(slack, live):
    slack.action(kit.CLOSE_WITHOUT_FLOW, value=str(live.public_id), channel=live.slack_channel_id)
    view = _view(slack.fake.calls_to("views.open")[-1])
    assert view["callback_id"] == kit.OPT_OUT_VIEW

    empty = reply(slack.view_submission(kit.OPT_OUT_VIEW, private_metadata=view["private_metadata"],
                                        values={kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": "   "}}}))
    assert empty["response_action"] == "errors" and kit.REASON_BLOCK in empty["errors"]
    live.refresh_from_db()
    assert live.is_live and not live.opt_out_reason

    slack.view_submission(kit.OPT_OUT_VIEW, private_metadata=view["private_metadata"],
                          values={kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": "A test alert, no impact"}}})
    live.refresh_from_db()
    assert live.learning_flow == LearningFlowState.OPTED_OUT and live.status.category == StatusCategory.CLOSED
    assert live.opt_out_reason == "A test alert, no impact"
    posted = slack.fake.calls_to("chat.postMessage")[-1]
    assert posted.params["channel"] == live.slack_channel_id and "A test alert, no impact" in posted.params["text"]
    assert TimelineEvent.objects.get(incident=live, kind=EventKind.LEARNING_FLOW_OPTED_OUT).slack_permalink


def test_a_rule_forcing_the_flow_says_so_and_still_offers_opting_out(slack, acme, owner, linked, declare):
    incident = declare(acme, owner, severity=Severity.objects.get(org=acme, name="Critical"))
    answer = reply(slack.command("close", channel=incident.slack_channel_id))
    text = json.dumps(answer["blocks"])
    assert "matches a rule that runs the learning flow" in text and kit.CLOSE_WITHOUT_FLOW in text


def test_close_by_reference_outside_the_channel(slack, live):
    answer = reply(slack.command(f"close {live.reference}", channel="CGENERAL"))
    assert "Run the learning flow?" in json.dumps(answer["blocks"])
    assert "INC-12" in reply(slack.command("close", channel="CGENERAL"))["text"]


def test_tasks_done_skip_and_assign_commands(slack, in_flow, admin):
    channel = in_flow.slack_channel_id
    listing = reply(slack.command("tasks", channel=channel))
    assert "Review the incident timeline" in json.dumps(listing["blocks"])
    reply(slack.command("done 2", channel=channel))
    reply(slack.command("skip 3 timestamps were right", channel=channel))
    reply(slack.command("assign 1 <@UADMIN>", channel=channel))
    tasks = list(LearningTask.objects.filter(incident=in_flow, status=in_flow.status))
    assert tasks[1].state == TaskState.COMPLETED
    assert (tasks[2].state, tasks[2].not_doing_reason) == (TaskState.NOT_DOING, "timestamps were right")
    assert tasks[0].assignee == admin and tasks[0].assigned_manually
    assert "from 1 to 4" in reply(slack.command("done 9", channel=channel))["text"]
    # The assignee hears about it in a DM, with the buttons.
    dm = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == f"D{ADMIN}"]
    assert dm and kit.TASK_DONE in json.dumps(_blocks(dm[-1]))


def test_done_button_updates_the_task_message_in_place(slack, in_flow):
    posted_before = len(slack.fake.calls_to("chat.postMessage"))
    stored = SlackMessage.objects.get(incident=in_flow, key__startswith="tasks:")
    task = LearningTask.objects.filter(incident=in_flow, status=in_flow.status).order_by("rank")[1]
    slack.action(kit.TASK_DONE, value=str(task.public_id), channel=in_flow.slack_channel_id)
    task.refresh_from_db()
    assert task.state == TaskState.COMPLETED
    updates = slack.fake.calls_to("chat.update")
    assert [(u.params["channel"], u.params["ts"]) for u in updates] == [(stored.channel_id, stored.ts)]
    assert "✅ *2. Review the incident timeline*" in json.dumps(_blocks(updates[0]), ensure_ascii=False)
    assert len(slack.fake.calls_to("chat.postMessage")) == posted_before

    # A double click is a second payload: it changes nothing more.
    slack.action(kit.TASK_DONE, value=str(task.public_id), channel=in_flow.slack_channel_id)
    assert TimelineEvent.objects.filter(incident=in_flow, kind=EventKind.TASK_COMPLETED).count() == 1


def test_a_change_from_the_dashboard_updates_the_same_message(slack, in_flow, owner, django_capture_on_commit_callbacks):
    task = LearningTask.objects.filter(incident=in_flow, status=in_flow.status).order_by("rank")[2]
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=Actor.for_user(owner))
    assert len(slack.fake.calls_to("chat.update")) == 1
    assert OutboxMessage.objects.filter(kind="learning.tasks_updated").exists()


def test_not_doing_button_and_assignee_picker(slack, in_flow, admin):
    tasks = list(LearningTask.objects.filter(incident=in_flow, status=in_flow.status).order_by("rank"))
    slack.action(kit.TASK_NOT_DOING, value=str(tasks[1].public_id), channel=in_flow.slack_channel_id)
    slack.action(kit.TASK_ASSIGN, block_id=f"task:{tasks[2].public_id}", selected_user=ADMIN,
                 channel=in_flow.slack_channel_id)
    tasks[1].refresh_from_db()
    tasks[2].refresh_from_db()
    assert tasks[1].state == TaskState.NOT_DOING
    assert tasks[2].assignee == admin
    slack.action(kit.TASK_ASSIGN, block_id=f"task:{tasks[3].public_id}", selected_user=STRANGER)
    assert "isn't a member" in slack.fake.calls_to("response_url")[-1].params["text"]


def test_viewer_button_click_is_refused(slack, in_flow):
    task = LearningTask.objects.filter(incident=in_flow, status=in_flow.status).order_by("rank")[1]
    slack.action(kit.TASK_DONE, value=str(task.public_id), user=VIEWER)
    task.refresh_from_db()
    assert task.state == TaskState.OUTSTANDING
    assert "not allowed" in slack.fake.calls_to("response_url")[-1].params["text"]


def test_auto_advance_posts_the_next_status_and_closing_says_so(slack, in_flow):
    for task in LearningTask.objects.filter(incident=in_flow, status=in_flow.status):
        slack.action(kit.TASK_DONE, value=str(task.public_id), channel=in_flow.slack_channel_id)
    in_flow.refresh_from_db()
    assert in_flow.status.name == "Reviewing"
    assert [c for c in slack.fake.calls_to("chat.postMessage") if "Reviewing" in c.params["text"]]
    old = SlackMessage.objects.get(incident=in_flow, key=f"tasks:{in_flow.pk}:{LearningTask.objects.filter(incident=in_flow).first().status_id}")
    last_update = [u for u in slack.fake.calls_to("chat.update") if u.params["ts"] == old.ts][-1]
    assert "Moved on to Reviewing" in json.dumps(_blocks(last_update))
    for task in LearningTask.objects.filter(incident=in_flow, status=in_flow.status):
        slack.action(kit.TASK_DONE, value=str(task.public_id), channel=in_flow.slack_channel_id)
    in_flow.refresh_from_db()
    assert in_flow.learning_flow == LearningFlowState.COMPLETED
    assert any("finished its learning flow" in c.params["text"] for c in slack.fake.calls_to("chat.postMessage"))


def test_optout_command_needs_a_reason(slack, in_flow):
    channel = in_flow.slack_channel_id
    assert "Say why" in reply(slack.command("optout", channel=channel))["text"]
    reply(slack.command("optout Nothing more to learn", channel=channel))
    in_flow.refresh_from_db()
    assert in_flow.learning_flow == LearningFlowState.OPTED_OUT
    assert in_flow.opt_out_reason == "Nothing more to learn"
    assert "Nothing more to learn" in slack.fake.calls_to("chat.postMessage")[-1].params["text"]


def test_the_task_message_names_its_learning_status_in_the_outbox_row(in_flow):
    """The transport renders a task message for the status in ``data``; it no
    longer parses it out of the dedupe key."""
    [queued] = OutboxMessage.objects.filter(incident=in_flow, kind="learning.tasks_posted")
    assert queued.data == {"status_id": in_flow.status_id}


def test_the_task_message_says_when_each_task_is_due_in_the_org_time_zone(slack, live, acme, owner):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from incidentio.incidents.services.incidents import incident_update_timestamps

    acme.time_zone = "Asia/Tokyo"
    acme.save()
    # Resolved Friday 6 December 2030, 23:30 in Tokyo (14:30 UTC): the due dates count from Tokyo's Friday.
    resolved = datetime(2030, 12, 6, 23, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    incident_update_timestamps(incident=live, actor=Actor.for_user(owner), values={"resolved_at": resolved})
    slack.action(kit.CLOSE_RUN_FLOW, value=str(live.public_id), channel=live.slack_channel_id)

    posted = [c for c in slack.fake.calls_to("chat.postMessage") if "Documenting" in c.params["text"]][0]
    text = json.dumps(_blocks(posted), ensure_ascii=False)
    # 5 business days after Friday: the next Friday, 13 December (the year: it is not this one).
    assert "Create the post-mortem* — due Fri 13 Dec 2030" in text
    assert "Create the post-mortem* — due Fri 13 Dec 2030" in posted.params["text"]
    assert "Review the incident timeline*" in text and "Review the incident timeline* —" not in text  # no rule
