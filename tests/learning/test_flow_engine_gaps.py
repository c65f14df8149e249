"""Gaps in the learning-flow engine's tests that mutation testing found (issue 23).

Each test here was written against a deliberate bug in ``learning/services/flow.py``,
``learning/services/rules.py`` or ``learning/tasks.py`` that the rest of the suite
let through, and fails with that bug in place:

- the lifecycle rules of one organization deciding another's close, and an
  organization without a rules row not being asked;
- opting out of a running flow: the reason on the tasks it closes off, who the
  Slack message names, the incident's timestamps;
- the value the advance (and its Celery task) returns, and a second advance
  changing nothing;
- the repair sweep picking the wrong incidents into its batch, or ignoring it;
- ``acks_late`` on the advance task;
- an opt-out that is not one transaction.

Requests go through the real entry points (the API with real keys, the dashboard
with signed-in members); what is asserted is what a user sees there, on the
timeline, or in the Slack outbox.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.test import Client

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    EventKind,
    Incident,
    IncidentStatus,
    LearningFlowState,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services.incidents import incident_declare
from learning.models import (
    LearningStatusVisit,
    LearningTask,
    LifecycleRules,
    TaskState,
    TaskTemplate,
    UnmatchedPolicy,
)
from learning.selectors import default_flow
from learning.services.configuration import flow_status_create, flow_status_move, rules_update
from learning.services.flow import flow_steps, incident_close, learning_advance, learning_opt_out
from learning.services.tasks import task_complete
from learning.tasks import advance_incident, repair_stuck_incidents
from orgs.models import ApiKeyRole
from orgs.services import api_key_create
from slackbot.formatting import escape
from slackbot.models import OutboxMessage
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db

OPTED_OUT_REASON = "The learning flow was opted out of."


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Celery jobs (the advance after a commit) run in-process."""


class Api:
    """A JSON client of ``/api/v2/`` holding a new key of ``org`` with ``roles``."""

    def __init__(self, org, *roles: str, name: str = "tests"):
        _key, token = api_key_create(org=org, name=name, roles=list(roles), created_by=None)
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params):
        response = self.client.get(f"/api/v2/{path}", params, headers=self.headers)
        assert response.status_code == 200, response.content
        return response.json()

    def post(self, path: str, body: dict | None = None):
        return self.client.post(f"/api/v2/{path}", body or {}, content_type="application/json", headers=self.headers)

    def incident(self, incident: Incident) -> dict:
        return self.get(f"incidents/{incident.public_id}")["incident"]

    def close(self, incident: Incident, **body):
        return self.post(f"incidents/{incident.public_id}/actions/close", body)

    def tasks(self, incident: Incident) -> list[dict]:
        return self.get("learning_tasks", incident_id=str(incident.public_id), page_size=100)["learning_tasks"]

    def timeline(self, incident: Incident) -> list[dict]:
        return self.get(f"incidents/{incident.public_id}/timeline", page_size=100)["timeline_events"]


def editor_of(org, name: str = "tests") -> Api:
    return Api(org, ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR, ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT, name=name)


def declare(org, user, severity: str = "Minor", lead=None, name: str = "Checkout is down") -> Incident:
    return incident_declare(
        org=org, actor=Actor.for_user(user), name=name,
        severity=Severity.objects.get(org=org, name=severity), lead=lead,
    )


def in_flow(org, user, lead=None, name: str = "Checkout is down") -> Incident:
    """A Minor incident closed into the learning flow (its first learning status)."""
    incident = declare(org, user, lead=lead, name=name)
    return incident_close(incident=incident, actor=Actor.for_user(user), learning_flow="run")


def fresh(incident: Incident) -> Incident:
    return Incident.objects.select_related("status").get(pk=incident.pk)


def page_of(incident: Incident) -> str:
    return f"/{incident.org.slug}/incidents/{incident.public_id}/"


def address_quietly(incident: Incident, user) -> None:
    """Complete every outstanding task of the incident's current status with the
    advance job lost (its on-commit hook never runs): the incident is stuck."""
    for task in LearningTask.objects.filter(incident=incident, status_id=fresh(incident).status_id,
                                            state=TaskState.OUTSTANDING):
        task_complete(task=task, actor=Actor.for_user(user))


def timeline_kinds(incident: Incident) -> list[str]:
    return list(TimelineEvent.objects.filter(incident=incident).order_by("pk").values_list("kind", flat=True))


def outbox_kinds(incident: Incident) -> list[str]:
    return list(OutboxMessage.objects.filter(incident=incident).order_by("pk").values_list("kind", flat=True))


def seen(incident: Incident) -> dict:
    """What a user can see change on an incident."""
    incident = fresh(incident)
    return {
        "status": incident.status.name,
        "learning_flow": incident.learning_flow,
        "closed_at": incident.closed_at,
        "timeline": timeline_kinds(incident),
        "outbox": outbox_kinds(incident),
        "tasks": sorted(LearningTask.objects.filter(incident=incident).values_list("pk", "state")),
    }


# --- 1. Each organization's close follows its own lifecycle rules (rules.decide) ----------------------


def test_each_org_closes_by_its_own_lifecycle_rules(acme, globex, owner, outsider, signed_in):
    """Acme requires the flow from Major and asks below; Globex never runs it.
    Read with another org's rules (a lookup without ``org_id``), one of the two
    closes the wrong way."""
    rules_update(org=acme, auto_enter_min_severity=Severity.objects.get(org=acme, name="Major"),
                 otherwise=UnmatchedPolicy.ASK)
    rules_update(org=globex, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.NEVER)
    acme_critical, acme_major = declare(acme, owner, "Critical"), declare(acme, owner, "Major")
    acme_minor = declare(acme, owner, "Minor")
    globex_critical, globex_minor = declare(globex, outsider, "Critical"), declare(globex, outsider, "Minor")

    # The incident pages say, before closing, what closing will do.
    acme_page = signed_in(owner, acme).get(page_of(acme_major)).content.decode()
    assert 'data-testid="flow-required"' in acme_page and "Close and run the learning flow" in acme_page
    globex_page = signed_in(outsider, globex).get(page_of(globex_critical)).content.decode()
    assert "closes straight to Closed" in globex_page and "Close and run the learning flow" not in globex_page

    acme_api, globex_api = editor_of(acme), editor_of(globex)
    entered = acme_api.close(acme_major)
    above = acme_api.close(acme_critical)  # above the threshold enters too, not only at it
    asked = acme_api.close(acme_minor)
    straight = [globex_api.close(globex_critical), globex_api.close(globex_minor)]

    assert entered.status_code == 200, entered.content
    assert entered.json()["incident"]["learning_flow"] == "running"
    assert entered.json()["incident"]["incident_status"]["category"] == "learning"
    assert above.status_code == 200, above.content
    assert above.json()["incident"]["learning_flow"] == "running"
    assert asked.status_code == 422, asked.content
    assert [e["source"]["field"] for e in asked.json()["errors"]] == ["learning_flow"]
    assert acme_api.incident(acme_minor)["incident_status"]["category"] == "live"
    for response in straight:
        assert response.status_code == 200, response.content
        body = response.json()["incident"]
        assert (body["learning_flow"], body["incident_status"]["category"]) == ("not_entered", "closed")
        assert body["closed_at"] is not None
    assert not LearningTask.objects.filter(org=globex).exists()


def test_an_org_without_learning_statuses_closes_straight_while_another_org_has_them(
    acme, globex, owner, outsider
):
    """Whether the org has learning statuses is asked of *its* statuses: Acme's
    (the defaults) do not make Globex, which removed its own, ask."""
    from incidentio.incidents.models import IncidentStatus, StatusCategory

    IncidentStatus.objects.filter(org=globex, category=StatusCategory.LEARNING).delete()
    theirs, ours = declare(globex, outsider, "Minor"), declare(acme, owner, "Minor")

    closed = editor_of(globex).close(theirs)
    asked = editor_of(acme).close(ours)

    assert closed.status_code == 200, closed.content
    body = closed.json()["incident"]
    assert (body["learning_flow"], body["incident_status"]["category"]) == ("not_entered", "closed")
    assert asked.status_code == 422
    assert [e["source"]["field"] for e in asked.json()["errors"]] == ["learning_flow"]


def test_an_org_without_a_lifecycle_rules_row_asks_whoever_closes(acme, globex, owner, outsider, signed_in):
    """No rules row: the closer chooses, whatever the severity — not another
    org's rules (Acme never runs the flow here), not required, not never."""
    rules_update(org=acme, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.NEVER)
    LifecycleRules.objects.filter(org=globex).delete()
    critical, minor = declare(globex, outsider, "Critical"), declare(globex, outsider, "Minor")
    api = editor_of(globex)

    page = signed_in(outsider, globex).get(page_of(critical))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Close and run the learning flow" in html and "Close without the learning flow" in html
    assert 'data-testid="flow-required"' not in html and "closes straight to Closed" not in html

    for incident in (critical, minor):
        asked = api.close(incident)
        assert asked.status_code == 422, asked.content
        assert [e["source"]["field"] for e in asked.json()["errors"]] == ["learning_flow"]
        assert api.incident(incident)["incident_status"]["category"] == "live"

    ran = api.close(critical, learning_flow="run")
    assert ran.status_code == 200 and ran.json()["incident"]["learning_flow"] == "running"
    assert not LifecycleRules.objects.filter(org=globex).exists()  # deciding did not create one
    # And Acme's own rule still applies to Acme.
    ours = editor_of(acme).close(declare(acme, owner, "Critical"))
    assert ours.status_code == 200 and ours.json()["incident"]["learning_flow"] == "not_entered"


# --- 3. Opting out of a running flow -----------------------------------------------------------------


def test_opting_out_closes_off_the_outstanding_tasks_with_the_reason_and_keeps_resolved_at(
    acme, owner, responder, signed_in
):
    incident = in_flow(acme, owner, lead=responder, name="Queue backlog")
    other = in_flow(acme, owner, lead=responder, name="Search is slow")
    done = LearningTask.objects.filter(incident=incident).order_by("rank").first()
    task_complete(task=done, actor=Actor.for_user(responder))
    api = editor_of(acme)
    before = api.incident(incident)
    assert before["resolved_at"] is not None and before["learning_flow"] == "running"
    other_tasks = api.tasks(other)

    client = signed_in(responder, acme)
    response = client.post(page_of(incident) + "learning/opt-out/", {"opt_out_reason": "Superseded by INC-9."})
    assert response.status_code == 302

    after = api.incident(incident)
    assert (after["learning_flow"], after["incident_status"]["category"]) == ("opted_out", "closed")
    assert after["resolved_at"] == before["resolved_at"]  # resolved when it entered the flow, not now
    assert after["closed_at"] is not None
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(before["updated_at"])
    tasks = {t["id"]: t for t in api.tasks(incident)}
    assert tasks.pop(str(done.public_id))["state"] == "completed"
    assert len(tasks) == 3
    assert {(t["state"], t["not_doing_reason"]) for t in tasks.values()} == {("not_doing", OPTED_OUT_REASON)}
    assert api.tasks(other) == other_tasks  # the other incident's tasks are untouched
    html = client.get(page_of(incident)).content.decode()
    assert html.count(f"Not doing: {OPTED_OUT_REASON}") == 3
    [message] = OutboxMessage.objects.filter(incident=incident, kind="learning.opted_out")
    assert f"by {escape(responder.display_name)}." in message.text and "Superseded by INC-9." in message.text
    [event] = [e for e in api.timeline(incident) if e["kind"] == "learning_flow_opted_out"]
    assert event["text"] == "Superseded by INC-9."


def test_an_opt_out_through_an_api_key_names_the_key_in_slack(acme, globex, owner, outsider):
    incident = declare(acme, owner, "Minor")
    theirs = declare(globex, outsider, "Minor")

    response = editor_of(acme, name="Release bot").close(
        incident, learning_flow="opt_out", opt_out_reason="A drill, no customers affected."
    )
    assert response.status_code == 200, response.content

    [message] = OutboxMessage.objects.filter(incident=incident, kind="learning.opted_out")
    assert "by API key “Release bot”." in message.text
    assert "someone" not in message.text
    assert not OutboxMessage.objects.filter(incident=theirs).exists()


# --- 4. The advance's result, and a second advance ------------------------------------------------------


def test_the_advance_task_returns_whether_it_moved_the_incident_and_moves_it_once(
    acme, owner, responder, commit
):
    incident = in_flow(acme, owner, lead=responder, name="Queue backlog")
    other = in_flow(acme, owner, lead=responder, name="Search is slow")
    address_quietly(other, owner)  # finished too, but nobody asked to advance it
    other_before = seen(other)
    api = editor_of(acme)
    documenting = fresh(incident).status

    address_quietly(incident, owner)
    assert commit(lambda: advance_incident.apply(args=(incident.pk, documenting.pk)).get()) is True
    reviewing = fresh(incident).status
    assert api.incident(incident)["incident_status"]["name"] == "Reviewing" == reviewing.name

    address_quietly(incident, owner)
    assert commit(lambda: advance_incident.apply(args=(incident.pk, reviewing.pk)).get()) is True

    body = api.incident(incident)
    assert body["learning_flow"] == "completed"
    assert body["incident_status"]["category"] == "closed"
    assert body["closed_at"] is not None
    assert [e["kind"] for e in api.timeline(incident)].count("learning_flow_completed") == 1
    [message] = OutboxMessage.objects.filter(incident=incident, kind="learning.completed")
    assert "finished its learning flow and is closed" in message.text
    done = seen(incident)

    # The same job again, from either status, and the service directly: nothing moves.
    assert commit(lambda: advance_incident.apply(args=(incident.pk, reviewing.pk)).get()) is False
    assert commit(lambda: advance_incident.apply(args=(incident.pk, documenting.pk)).get()) is False
    assert commit(learning_advance, incident_id=incident.pk, from_status_id=reviewing.pk) is False
    assert seen(incident) == done
    assert api.incident(incident)["updated_at"] == body["updated_at"]
    assert seen(other) == other_before


# --- 5. The repair sweep -----------------------------------------------------------------------------


def test_repair_picks_only_running_unblocked_incidents_into_its_batch(
    acme, globex, owner, responder, outsider, commit, monkeypatch
):
    """The sweep takes at most REPAIR_BATCH incidents, newest first. The stuck
    incident is the oldest; newer ones are closed (a completed flow, an opt-out)
    or blocked (required tasks outstanding). Let either kind into the batch and
    it fills up before the stuck one is reached."""
    monkeypatch.setattr("learning.services.flow.REPAIR_BATCH", 2)
    stuck = in_flow(acme, owner, lead=responder, name="Stuck")  # INC-1
    address_quietly(stuck, owner)

    completed = in_flow(acme, owner, lead=responder, name="Completed")  # INC-2
    for _ in range(2):
        address_quietly(completed, owner)
        commit(learning_advance, incident_id=completed.pk, from_status_id=fresh(completed).status_id)
    opted_out = in_flow(acme, owner, lead=responder, name="Opted out")  # INC-3
    learning_opt_out(incident=opted_out, actor=Actor.for_user(owner), reason="Superseded.")
    blocked = [in_flow(acme, owner, lead=responder, name=f"Blocked {n}") for n in (4, 5)]  # INC-4, INC-5
    theirs = in_flow(globex, outsider, name="Their blocked one")
    assert fresh(completed).learning_flow == LearningFlowState.COMPLETED
    assert fresh(opted_out).learning_flow == LearningFlowState.OPTED_OUT
    untouched = {incident.pk: seen(incident) for incident in (completed, opted_out, *blocked, theirs)}

    assert commit(lambda: repair_stuck_incidents.apply().get()) == 1

    body = editor_of(acme).incident(stuck)
    assert (body["incident_status"]["name"], body["learning_flow"]) == ("Reviewing", "running")
    assert timeline_kinds(stuck).count(EventKind.LEARNING_STATUS_CHANGED) == 1
    for incident in (completed, opted_out, *blocked, theirs):
        assert seen(incident) == untouched[incident.pk], incident.name
    assert commit(lambda: repair_stuck_incidents.apply().get()) == 0


def test_one_repair_sweep_advances_at_most_its_batch(acme, owner, responder, commit, monkeypatch):
    monkeypatch.setattr("learning.services.flow.REPAIR_BATCH", 2)
    stuck = [in_flow(acme, owner, lead=responder, name=f"Stuck {n}") for n in (1, 2, 3)]
    for incident in stuck:
        address_quietly(incident, owner)
    api = editor_of(acme)

    def statuses():
        return [api.incident(incident)["incident_status"]["name"] for incident in stuck]

    assert commit(lambda: repair_stuck_incidents.apply().get()) == 2
    assert statuses() == ["Documenting", "Reviewing", "Reviewing"]  # newest first
    assert commit(lambda: repair_stuck_incidents.apply().get()) == 1
    assert statuses() == ["Reviewing", "Reviewing", "Reviewing"]
    assert commit(lambda: repair_stuck_incidents.apply().get()) == 0
    for incident in stuck:
        assert timeline_kinds(incident).count(EventKind.LEARNING_STATUS_CHANGED) == 1


# --- 6. The advance job survives a worker killed mid-advance ---------------------------------------------


def test_the_advance_task_is_acknowledged_only_after_it_ran():
    from incidentio.config.celery import app

    # A worker killed mid-advance must not lose the advance: with acks_late (and
    # a lost worker process rejecting, not acking) the broker redelivers the job,
    # and the advance is safe to run twice.
    task = app.tasks["learning.tasks.advance_incident"]
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


# --- 7. An opt-out is one transaction ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_people_opting_out_at_once_opt_out_once(acme, owner, responder, admin, signed_in):
    clients = [signed_in(responder, acme), signed_in(admin, acme)]
    for n in range(5):
        incident = in_flow(acme, owner, lead=responder, name=f"Race {n}")
        other = in_flow(acme, owner, lead=responder, name=f"Bystander {n}")
        other_before = seen(other)
        url = page_of(incident) + "learning/opt-out/"

        results, errors = run_in_threads(
            lambda i: clients[i].post(url, {"opt_out_reason": f"Reason {i}."}).status_code
        )

        assert errors == [], f"round {n}: {errors!r}"
        # The second is refused (303 back to the page): not in the flow any more.
        assert sorted(results) == [302, 303], f"round {n}: {results}"
        assert timeline_kinds(incident).count(EventKind.LEARNING_FLOW_OPTED_OUT) == 1, f"round {n}"
        assert outbox_kinds(incident).count("learning.opted_out") == 1, f"round {n}"
        incident = fresh(incident)
        assert incident.learning_flow == LearningFlowState.OPTED_OUT and incident.status.category == "closed"
        [event] = TimelineEvent.objects.filter(incident=incident, kind=EventKind.LEARNING_FLOW_OPTED_OUT)
        assert event.text == incident.opt_out_reason, f"round {n}"
        assert set(LearningTask.objects.filter(incident=incident).values_list("state", "not_doing_reason")) == {
            (TaskState.NOT_DOING, OPTED_OUT_REASON)
        }, f"round {n}"
        assert seen(other) == other_before, f"round {n}"


@pytest.mark.django_db(transaction=True)
def test_an_opt_out_that_fails_half_way_leaves_nothing_behind(acme, owner, responder, signed_in, monkeypatch):
    """The Slack message is queued last: when queueing it fails, the incident,
    its tasks and its timeline are as they were — still in the flow."""
    incident = in_flow(acme, owner, lead=responder)
    before = seen(incident)
    client = signed_in(responder, acme)

    class OutboxDown(Exception):
        pass

    def fail(**kwargs):
        raise OutboxDown

    monkeypatch.setattr("learning.services.flow.outbox_enqueue", fail)
    with pytest.raises(OutboxDown):
        client.post(page_of(incident) + "learning/opt-out/", {"opt_out_reason": "Superseded by INC-9."})
    monkeypatch.undo()

    assert seen(incident) == before
    body = editor_of(acme).incident(incident)
    assert (body["learning_flow"], body["incident_status"]["name"], body["opt_out_reason"]) == (
        "running", "Documenting", ""
    )
    assert f"Not doing: {OPTED_OUT_REASON}" not in client.get(page_of(incident)).content.decode()
    # And the opt-out still works once Slack's outbox is back.
    response = client.post(page_of(incident) + "learning/opt-out/", {"opt_out_reason": "Superseded by INC-9."})
    assert response.status_code == 302
    assert fresh(incident).learning_flow == LearningFlowState.OPTED_OUT


# --- Notifications and a lost advance job ---------------------------------------------------------------


def test_entering_the_flow_messages_only_people_with_outstanding_tasks(acme, globex, owner, responder, outsider):
    """Tasks nobody holds send no direct message (there is nobody to send it to),
    and neither do tasks already done when the flow starts: the lead, who wrote
    the post-mortem already, is told only about what is still theirs to do."""
    unled = in_flow(acme, owner, name="Nobody leads this")
    in_flow(globex, outsider, name="Their incident")
    led = declare(acme, owner, lead=responder, name="Led incident")
    editor_of(acme).post(f"incidents/{led.public_id}/postmortem")  # written before closing
    incident_close(incident=led, actor=Actor.for_user(owner), learning_flow="run")

    dms = OutboxMessage.objects.filter(org=acme, destination__startswith="dm:")
    assert not dms.filter(incident=unled).exists()
    [dm] = dms.filter(incident=led)
    assert dm.destination == f"dm:{responder.pk}"
    outstanding = set(LearningTask.objects.filter(incident=led, assignee=responder, state=TaskState.OUTSTANDING)
                      .values_list("public_id", flat=True))
    assert outstanding and {str(pk) for pk in outstanding} == set(dm.data["task_ids"])
    automatic = LearningTask.objects.filter(incident=led, completed_automatically=True)
    assert automatic.exists() and not {str(t.public_id) for t in automatic} & set(dm.data["task_ids"])


def test_a_task_change_stands_when_the_advance_cannot_be_queued(acme, owner, responder, commit, monkeypatch):
    """With the broker down at commit (Redis unreachable), completing the last
    task still succeeds; the repair sweep advances the incident later."""
    incident = in_flow(acme, owner, lead=responder, name="Broker down")
    api = editor_of(acme)

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is unreachable")

    monkeypatch.setattr("learning.tasks.advance_incident.delay", broker_down)
    responses = commit(lambda: [api.post(f"learning_tasks/{task['id']}/actions/complete")
                                for task in api.tasks(incident) if task["state"] == "outstanding"])
    assert responses and all(response.status_code == 200 for response in responses)
    assert all(task["state"] != "outstanding" for task in api.tasks(incident)
               if task["learning_status"]["name"] == "Documenting")
    assert api.incident(incident)["incident_status"]["name"] == "Documenting"  # the advance was lost

    monkeypatch.undo()
    assert commit(lambda: repair_stuck_incidents.apply().get()) == 1
    assert api.incident(incident)["incident_status"]["name"] == "Reviewing"


def test_the_repair_sweep_warns_operators_when_it_repaired_something(acme, owner, responder, commit, caplog):
    """A repaired incident means an advance job was lost: the sweep says so in
    the log (operators alert on it); a sweep with nothing to repair says nothing."""
    stuck = in_flow(acme, owner, lead=responder, name="Lost advance")
    with caplog.at_level("WARNING", logger="learning.tasks"):
        assert commit(lambda: repair_stuck_incidents.apply().get()) == 0
    assert not caplog.records

    address_quietly(stuck, owner)
    with caplog.at_level("WARNING", logger="learning.tasks"):
        assert commit(lambda: repair_stuck_incidents.apply().get()) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "Repaired 1 incident(s) whose learning-flow advance was lost."
    ]


def test_an_incident_without_a_record_of_its_current_status_still_moves_forward(acme, owner, responder, commit):
    """The advance goes to the next learning status after the current one by
    order, not back into the current one, even when the record that the
    incident has been there is missing (rows written before visits were kept)."""
    incident = in_flow(acme, owner, lead=responder, name="No visit row")
    LearningStatusVisit.objects.filter(incident=incident).delete()
    documenting = fresh(incident).status
    tasks_before = LearningTask.objects.filter(incident=incident, status=documenting).count()

    address_quietly(incident, owner)
    assert commit(learning_advance, incident_id=incident.pk, from_status_id=documenting.pk) is True

    assert editor_of(acme).incident(incident)["incident_status"]["name"] == "Reviewing"
    assert LearningTask.objects.filter(incident=incident, status=documenting).count() == tasks_before


def test_a_learning_status_added_before_the_current_one_is_not_gone_back_to(acme, owner, responder, commit):
    """An admin adds a learning status and moves it first while an incident is
    in the flow: the incident carries on to the statuses after the one it is
    in; it never goes back to one ordered before it."""
    incident = in_flow(acme, owner, lead=responder, name="Flow changed under it")
    documenting = fresh(incident).status
    flow = default_flow(org=acme)
    added = flow_status_create(flow=flow, name="Customer follow-up")
    while flow_steps(flow.pk)[0] != added:
        flow_status_move(flow=flow, status=added, direction="up")

    address_quietly(incident, owner)
    assert commit(learning_advance, incident_id=incident.pk, from_status_id=documenting.pk) is True
    api = editor_of(acme)
    assert api.incident(incident)["incident_status"]["name"] == "Reviewing"
    moves = [e["text"] for e in api.timeline(incident) if e["kind"] == EventKind.LEARNING_STATUS_CHANGED]
    assert moves == ["Every task of Documenting is addressed: moved to Reviewing"]


def test_the_timeline_counts_the_tasks_the_flow_started_with(acme, globex, owner, outsider):
    """"Learning flow started: Documenting (4 tasks)", and "(1 task)" for one."""
    documenting = IncidentStatus.objects.filter(org=acme, category="learning").order_by("rank", "pk").first()
    templates = TaskTemplate.objects.filter(status=documenting).count()
    assert templates > 1
    many = in_flow(acme, owner, name="Many tasks")
    [first, *rest] = TaskTemplate.objects.filter(
        status=IncidentStatus.objects.filter(org=globex, category="learning").order_by("rank", "pk").first())
    TaskTemplate.objects.filter(pk__in=[t.pk for t in rest]).delete()
    one = in_flow(globex, outsider, name="One task")

    def started(incident, api):
        return [e["text"] for e in api.timeline(incident) if e["kind"] == EventKind.LEARNING_FLOW_ENTERED]

    assert started(many, editor_of(acme)) == [f"Learning flow started: Documenting ({templates} tasks)"]
    assert started(one, editor_of(globex)) == ["Learning flow started: Documenting (1 task)"]


def test_an_advance_is_queued_only_when_a_task_change_finishes_the_status(
    acme, owner, responder, commit, monkeypatch
):
    """Each task change that leaves required work outstanding queues nothing; the
    one that addresses the last required task queues one advance (what the
    broker sees)."""
    queued = []
    monkeypatch.setattr("learning.tasks.advance_incident.delay", lambda *args: queued.append(args))
    incident = in_flow(acme, owner, lead=responder, name="Counting jobs")
    api = editor_of(acme)
    outstanding = [t for t in api.tasks(incident) if t["state"] == "outstanding" and t["required"]]
    assert len(outstanding) > 1

    for n, task in enumerate(outstanding, start=1):
        response = commit(lambda: api.post(f"learning_tasks/{task['id']}/actions/complete"))
        assert response.status_code == 200, response.content
        last = n == len(outstanding)
        assert queued == ([(incident.pk, fresh(incident).status_id)] if last else []), (n, queued)
