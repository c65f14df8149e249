"""The learning flow's services (docs/learning-flow.md).

Each test calls the service the dashboard, the API and Slack all call, and
asserts what a responder would notice: the incident's status, its tasks, its
timeline and what was queued for Slack — and that a refused or rolled-back
change wrote nothing.

The advance runs after commit through Celery (``advance_incident.delay`` in an
``on_commit`` hook). Here Celery is eager and ``commit(...)`` runs a service
with its on-commit hooks executed, as a real commit would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    ActorKind,
    EventKind,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentStatus,
    LearningFlowState,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.services.configuration import role_create
from incidentio.incidents.services.documents import (
    debrief_schedule,
    postmortem_create,
    postmortem_set_status,
    postmortem_share,
)
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_assign_role, incident_declare
from learning.models import LearningTask, TaskKind, TaskState, TaskTemplate, UnmatchedPolicy
from learning.services.configuration import (
    rules_update,
    template_create,
    template_delete,
    template_update,
)
from learning.services.flow import incident_close, learning_advance, learning_opt_out
from learning.services.tasks import task_assign, task_complete, task_not_doing, task_reopen
from learning.tasks import repair_stuck_incidents
from slackbot.models import OutboxMessage

pytestmark = pytest.mark.django_db

DOCUMENTING_KINDS = [
    TaskKind.CREATE_POSTMORTEM,
    TaskKind.REVIEW_TIMELINE,
    TaskKind.UPDATE_TIMESTAMPS,
    TaskKind.CREATE_FOLLOW_UPS,
]
REVIEWING_KINDS = [
    TaskKind.SCHEDULE_DEBRIEF,
    TaskKind.COMPLETE_POSTMORTEM,
    TaskKind.SHARE_POSTMORTEM,
    TaskKind.REVIEW_FOLLOW_UPS,
]


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Run Celery tasks in-process even when REDIS_URL is set (the Postgres run)."""


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``commit(service, **kwargs)``: call a service and run its on-commit hooks
    (and the hooks those hooks register), as a real commit would."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


# --- Helpers ------------------------------------------------------------------------------------


def status(org, name: str) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def severity(org, name: str) -> Severity:
    return Severity.objects.get(org=org, name=name)


def lead_role(org) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=RoleKind.LEAD)


def events(incident, kind: str | None = None) -> list[TimelineEvent]:
    queryset = TimelineEvent.objects.filter(incident=incident)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    return list(queryset.order_by("occurred_at", "pk"))


def outbox(incident, kind: str | None = None) -> list[OutboxMessage]:
    queryset = OutboxMessage.objects.filter(incident=incident)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    return list(queryset.order_by("pk"))


def tasks_of(incident, status_name: str) -> list[LearningTask]:
    return list(
        LearningTask.objects.filter(incident=incident, status__name=status_name).order_by("rank", "pk")
    )


def task_of_kind(incident, status_name: str, kind: str) -> LearningTask:
    return LearningTask.objects.get(incident=incident, status__name=status_name, kind=kind)


def completions_of(task: LearningTask) -> list[TimelineEvent]:
    return [e for e in events(task.incident, EventKind.TASK_COMPLETED) if e.data.get("task_id") == str(task.public_id)]


def declare(org, user, severity_name: str | None = "Minor", lead=None) -> Incident:
    return incident_declare(
        org=org,
        actor=Actor.for_user(user),
        name="Checkout is down",
        severity=severity(org, severity_name) if severity_name else None,
        lead=lead,
    )


def fresh(incident: Incident) -> Incident:
    return Incident.objects.select_related("status").get(pk=incident.pk)


def snapshot(incident: Incident) -> dict:
    """Everything a refused or rolled-back change must leave untouched."""
    incident = fresh(incident)
    return {
        "status": incident.status.name,
        "learning_flow": incident.learning_flow,
        "opt_out_reason": incident.opt_out_reason,
        "closed_at": incident.closed_at,
        "events": [(e.kind, e.text) for e in events(incident)],
        "tasks": list(LearningTask.objects.filter(incident=incident).values_list("pk", "state", "assignee_id")),
        "outbox": list(OutboxMessage.objects.filter(incident=incident).values_list("pk", "kind")),
    }


def assert_completed_automatically(task: LearningTask, because: str) -> None:
    task.refresh_from_db()
    assert task.state == TaskState.COMPLETED
    assert task.completed_automatically
    assert task.addressed_by is None
    [event] = completions_of(task)
    assert event.actor_kind == ActorKind.SYSTEM
    assert event.actor_user is None
    assert event.data["automatic"] is True
    assert "completed automatically" in event.text
    assert because in event.text


@pytest.fixture
def as_owner(owner) -> Actor:
    return Actor.for_user(owner)


@pytest.fixture
def in_documenting(acme, owner, responder, as_owner, commit) -> Incident:
    """A Minor incident closed into the flow by the owner; the responder leads it."""
    incident = declare(acme, owner, "Minor", lead=responder)
    return commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")


def address_all(incident, status_name: str, actor: Actor, commit) -> None:
    for task in tasks_of(incident, status_name):
        if task.state == TaskState.OUTSTANDING:
            commit(task_complete, task=task, actor=actor)


@pytest.fixture
def in_reviewing(in_documenting, acme, as_owner, commit) -> Incident:
    address_all(in_documenting, "Documenting", as_owner, commit)
    incident = fresh(in_documenting)
    assert incident.status.name == "Reviewing"
    return incident


# --- Closing ------------------------------------------------------------------------------------


def test_closing_without_a_choice_when_the_org_asks_is_refused_and_changes_nothing(acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Minor")
    before = snapshot(incident)

    with pytest.raises(ServiceError) as error:
        commit(incident_close, incident=incident, actor=as_owner)

    assert error.value.field == "learning_flow"
    assert snapshot(incident) == before
    assert fresh(incident).is_live


def test_running_the_flow_enters_documenting_with_tasks_for_the_lead(acme, owner, responder, as_owner, commit):
    incident = declare(acme, owner, "Minor", lead=responder)

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")

    incident = fresh(incident)
    assert incident.status == status(acme, "Documenting")
    assert incident.learning_flow == LearningFlowState.RUNNING
    assert incident.resolved_at is not None
    assert incident.closed_at is None
    tasks = tasks_of(incident, "Documenting")
    assert [t.kind for t in tasks] == DOCUMENTING_KINDS
    assert all(t.state == TaskState.OUTSTANDING and t.required for t in tasks)
    assert {t.assignee for t in tasks} == {responder}
    assert {t.assignee_role for t in tasks} == {lead_role(acme)}
    assert [t.template.title for t in tasks] == [t.title for t in tasks]
    [closed] = events(incident, EventKind.CLOSED)
    assert closed.text == "Incident closed"
    assert closed.actor_user == owner
    [entered] = events(incident, EventKind.LEARNING_FLOW_ENTERED)
    assert entered.text.startswith("Learning flow started")
    assert "Documenting" in entered.text
    [posted] = outbox(incident, "learning.tasks_posted")
    assert "Documenting" in posted.text
    assert all(t.title in posted.text for t in tasks)
    # Each assignee is told, once, which tasks are theirs.
    [dm] = outbox(incident, "learning.task_assigned")
    assert dm.destination == f"dm:{responder.pk}"
    assert all(t.title in dm.text for t in tasks)
    assert len(dm.data["task_ids"]) == 4


@pytest.mark.parametrize("reason", ["", "   \n\t "])
def test_opting_out_without_a_reason_is_refused_and_changes_nothing(reason, acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Minor")
    before = snapshot(incident)

    with pytest.raises(ServiceError) as error:
        commit(incident_close, incident=incident, actor=as_owner, learning_flow="opt_out", opt_out_reason=reason)

    assert error.value.field == "opt_out_reason"
    assert snapshot(incident) == before
    incident = fresh(incident)
    assert incident.is_live
    assert not events(incident, EventKind.CLOSED)
    assert not OutboxMessage.objects.exists()


def test_opting_out_with_a_reason_closes_and_shares_the_reason(acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Minor")

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="opt_out",
           opt_out_reason="  A false alarm from the synthetic checks.  ")

    incident = fresh(incident)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.OPTED_OUT
    assert incident.opt_out_reason == "A false alarm from the synthetic checks."
    assert incident.opted_out_by == owner
    assert incident.closed_at is not None
    assert not LearningTask.objects.filter(incident=incident).exists()
    [closed] = events(incident, EventKind.CLOSED)
    assert closed.text == "Incident closed"
    [opted_out] = events(incident, EventKind.LEARNING_FLOW_OPTED_OUT)
    assert opted_out.text == "A false alarm from the synthetic checks."
    assert opted_out.data["reason"] == "A false alarm from the synthetic checks."
    assert opted_out.actor_user == owner
    [message] = outbox(incident, "learning.opted_out")
    assert "A false alarm from the synthetic checks." in message.text
    assert message.destination == "incident_channel"
    assert not outbox(incident, "learning.tasks_posted")


def test_unknown_choice_is_refused(acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Minor")
    before = snapshot(incident)

    with pytest.raises(ServiceError) as error:
        commit(incident_close, incident=incident, actor=as_owner, learning_flow="maybe")

    assert error.value.field == "learning_flow"
    assert snapshot(incident) == before


# --- Lifecycle rules ------------------------------------------------------------------------------


def test_critical_incident_enters_the_flow_without_a_choice(acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Critical")

    commit(incident_close, incident=incident, actor=as_owner)

    incident = fresh(incident)
    assert incident.status.name == "Documenting"
    assert incident.learning_flow == LearningFlowState.RUNNING
    assert len(tasks_of(incident, "Documenting")) == 4


def test_critical_incident_can_still_opt_out_with_a_reason(acme, owner, as_owner, commit):
    incident = declare(acme, owner, "Critical")

    with pytest.raises(ServiceError):
        commit(incident_close, incident=incident, actor=as_owner, learning_flow="opt_out", opt_out_reason=" ")
    assert fresh(incident).is_live

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="opt_out",
           opt_out_reason="Covered by the INC-1 review.")

    incident = fresh(incident)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.OPTED_OUT
    assert incident.opt_out_reason == "Covered by the INC-1 review."
    assert not LearningTask.objects.filter(incident=incident).exists()
    assert len(outbox(incident, "learning.opted_out")) == 1


@pytest.mark.parametrize("severity_name", ["Minor", "Major", None])
def test_incidents_below_the_threshold_ask(severity_name, acme, owner, as_owner, commit):
    incident = declare(acme, owner, severity_name)

    with pytest.raises(ServiceError) as error:
        commit(incident_close, incident=incident, actor=as_owner)

    assert error.value.field == "learning_flow"
    assert fresh(incident).is_live


def test_a_lowered_threshold_makes_the_flow_required_from_that_severity(acme, owner, as_owner, commit):
    rules_update(org=acme, auto_enter_min_severity=severity(acme, "Major"), otherwise=UnmatchedPolicy.ASK)
    major, minor = declare(acme, owner, "Major"), declare(acme, owner, "Minor")

    commit(incident_close, incident=major, actor=as_owner)
    with pytest.raises(ServiceError):
        commit(incident_close, incident=minor, actor=as_owner)

    assert fresh(major).learning_flow == LearningFlowState.RUNNING
    assert fresh(minor).is_live


def test_never_closes_the_other_incidents_straight_to_closed(acme, owner, as_owner, commit):
    rules_update(org=acme, auto_enter_min_severity=severity(acme, "Critical"), otherwise=UnmatchedPolicy.NEVER)
    incident = declare(acme, owner, "Minor")

    commit(incident_close, incident=incident, actor=as_owner)

    incident = fresh(incident)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.NOT_ENTERED
    assert incident.closed_at is not None
    assert [e.kind for e in events(incident, EventKind.CLOSED)] == [EventKind.CLOSED]
    assert not events(incident, EventKind.LEARNING_FLOW_ENTERED)
    assert not LearningTask.objects.filter(incident=incident).exists()
    assert not OutboxMessage.objects.filter(incident=incident).exists()

    # The rule still puts a critical incident in the flow.
    critical = declare(acme, owner, "Critical")
    commit(incident_close, incident=critical, actor=as_owner)
    assert fresh(critical).learning_flow == LearningFlowState.RUNNING


def test_an_org_without_learning_statuses_closes_straight_to_closed(acme, owner, as_owner, commit):
    IncidentStatus.objects.filter(org=acme, category=StatusCategory.LEARNING).delete()
    incident = declare(acme, owner, "Critical")

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")

    incident = fresh(incident)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.NOT_ENTERED
    assert len(events(incident, EventKind.CLOSED)) == 1
    assert not LearningTask.objects.filter(incident=incident).exists()


class Abort(Exception):
    """Rolls back the transaction a close ran in."""


@pytest.mark.parametrize(
    ("choice", "reason"), [("run", ""), ("opt_out", "Not worth a review.")], ids=["run", "opt_out"]
)
def test_a_rolled_back_close_queues_nothing(choice, reason, acme, owner, responder, as_owner,
                                            django_capture_on_commit_callbacks):
    incident = declare(acme, owner, "Minor", lead=responder)
    before = snapshot(incident)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Abort):
            with transaction.atomic():
                incident_close(incident=incident, actor=as_owner, learning_flow=choice, opt_out_reason=reason)
                assert OutboxMessage.objects.filter(incident=incident).exists()  # written, not yet committed
                raise Abort

    assert callbacks == []  # no Celery job, no delivery
    assert not OutboxMessage.objects.exists()
    assert not LearningTask.objects.exists()
    assert snapshot(incident) == before
    assert fresh(incident).is_live


# --- Tasks completing themselves ----------------------------------------------------------------


def test_creating_the_postmortem_completes_its_task(in_documenting, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.CREATE_POSTMORTEM)

    commit(postmortem_create, incident=in_documenting, actor=as_owner)

    assert_completed_automatically(task, "a post-mortem was created")
    others = [t for t in tasks_of(in_documenting, "Documenting") if t.pk != task.pk]
    assert all(t.state == TaskState.OUTSTANDING for t in others)


def test_creating_follow_ups_completes_its_task_once(in_documenting, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.CREATE_FOLLOW_UPS)

    commit(follow_up_create, incident=in_documenting, actor=as_owner, title="Alert on queue depth")
    assert_completed_automatically(task, "a follow-up was created")
    addressed_at = LearningTask.objects.get(pk=task.pk).addressed_at

    commit(follow_up_create, incident=in_documenting, actor=as_owner, title="Add a runbook")

    task.refresh_from_db()
    assert task.addressed_at == addressed_at
    assert len(completions_of(task)) == 1
    assert FollowUp.objects.filter(incident=in_documenting).count() == 2
    assert fresh(in_documenting).status.name == "Documenting"


def test_scheduling_the_debrief_completes_its_task(in_reviewing, as_owner, commit):
    task = task_of_kind(in_reviewing, "Reviewing", TaskKind.SCHEDULE_DEBRIEF)

    commit(debrief_schedule, incident=in_reviewing, actor=as_owner, scheduled_at=timezone.now() + timedelta(days=2))

    assert_completed_automatically(task, "a debrief was scheduled")


def test_marking_the_postmortem_completed_completes_its_task(in_reviewing, as_owner, commit):
    task = task_of_kind(in_reviewing, "Reviewing", TaskKind.COMPLETE_POSTMORTEM)
    postmortem = commit(postmortem_create, incident=in_reviewing, actor=as_owner)

    commit(postmortem_set_status, postmortem=postmortem, actor=as_owner, status=PostmortemStatus.IN_REVIEW)
    task.refresh_from_db()
    assert task.state == TaskState.OUTSTANDING  # in review is not completed

    commit(postmortem_set_status, postmortem=postmortem, actor=as_owner, status=PostmortemStatus.COMPLETED)

    assert_completed_automatically(task, "the post-mortem was marked completed")


def test_sharing_the_postmortem_completes_its_task_once(in_reviewing, as_owner, commit):
    task = task_of_kind(in_reviewing, "Reviewing", TaskKind.SHARE_POSTMORTEM)
    postmortem = commit(postmortem_create, incident=in_reviewing, actor=as_owner)

    commit(postmortem_share, postmortem=postmortem, actor=as_owner)
    assert_completed_automatically(task, "the post-mortem was shared")
    before = snapshot(in_reviewing)

    commit(postmortem_share, postmortem=postmortem, actor=as_owner)

    assert snapshot(in_reviewing) == before
    assert len(events(in_reviewing, EventKind.POSTMORTEM_SHARED)) == 1
    assert len(completions_of(task)) == 1


@pytest.fixture
def comms_role(acme) -> IncidentRole:
    return role_create(org=acme, name="Communications Lead", shortform="comms")


@pytest.fixture
def assign_comms_template(acme, comms_role) -> TaskTemplate:
    return template_create(org=acme, status=status(acme, "Documenting"), title="Assign a communications lead",
                           kind=TaskKind.ASSIGN_ROLE, target_role=comms_role)


def test_assigning_the_role_completes_its_task(assign_comms_template, comms_role, in_documenting, acme, admin,
                                               owner, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.ASSIGN_ROLE)
    assert task.target_role == comms_role
    assert task.state == TaskState.OUTSTANDING

    # Another role being assigned does not count.
    commit(incident_assign_role, incident=in_documenting, actor=as_owner, role=lead_role(acme), user=owner)
    task.refresh_from_db()
    assert task.state == TaskState.OUTSTANDING

    commit(incident_assign_role, incident=in_documenting, actor=as_owner, role=comms_role, user=admin)

    assert_completed_automatically(task, "the role was assigned")


def test_work_done_during_the_incident_counts_when_the_flow_starts(assign_comms_template, comms_role, acme, owner,
                                                                   responder, admin, as_owner, commit):
    incident = declare(acme, owner, "Minor", lead=responder)
    commit(postmortem_create, incident=incident, actor=as_owner)
    commit(follow_up_create, incident=incident, actor=as_owner, title="Alert on queue depth")
    commit(incident_assign_role, incident=incident, actor=as_owner, role=comms_role, user=admin)

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")

    states = {t.kind: (t.state, t.completed_automatically) for t in tasks_of(incident, "Documenting")}
    assert states == {
        TaskKind.CREATE_POSTMORTEM: (TaskState.COMPLETED, True),
        TaskKind.REVIEW_TIMELINE: (TaskState.OUTSTANDING, False),
        TaskKind.UPDATE_TIMESTAMPS: (TaskState.OUTSTANDING, False),
        TaskKind.CREATE_FOLLOW_UPS: (TaskState.COMPLETED, True),
        TaskKind.ASSIGN_ROLE: (TaskState.COMPLETED, True),
    }
    assert fresh(incident).status.name == "Documenting"


def test_work_done_in_documenting_counts_when_reviewing_starts(in_documenting, as_owner, commit):
    postmortem = commit(postmortem_create, incident=in_documenting, actor=as_owner)
    commit(postmortem_set_status, postmortem=postmortem, actor=as_owner, status=PostmortemStatus.COMPLETED)
    commit(postmortem_share, postmortem=postmortem, actor=as_owner)
    commit(debrief_schedule, incident=in_documenting, actor=as_owner, scheduled_at=timezone.now() + timedelta(days=1))

    address_all(in_documenting, "Documenting", as_owner, commit)

    assert fresh(in_documenting).status.name == "Reviewing"
    states = {t.kind: (t.state, t.completed_automatically) for t in tasks_of(in_documenting, "Reviewing")}
    assert states == {
        TaskKind.SCHEDULE_DEBRIEF: (TaskState.COMPLETED, True),
        TaskKind.COMPLETE_POSTMORTEM: (TaskState.COMPLETED, True),
        TaskKind.SHARE_POSTMORTEM: (TaskState.COMPLETED, True),
        TaskKind.REVIEW_FOLLOW_UPS: (TaskState.OUTSTANDING, False),
    }


def test_a_status_whose_work_is_all_done_already_is_passed_through(acme, owner, responder, as_owner, commit):
    """Every Documenting task is automatic and already done: the incident goes straight on to Reviewing."""
    documenting = status(acme, "Documenting")
    for template in TaskTemplate.objects.filter(status=documenting, kind__in=[TaskKind.REVIEW_TIMELINE,
                                                                             TaskKind.UPDATE_TIMESTAMPS]):
        template_delete(template=template)
    incident = declare(acme, owner, "Minor", lead=responder)
    commit(postmortem_create, incident=incident, actor=as_owner)
    commit(follow_up_create, incident=incident, actor=as_owner, title="Alert on queue depth")

    commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")

    assert fresh(incident).status.name == "Reviewing"
    assert len(events(incident, EventKind.LEARNING_STATUS_CHANGED)) == 1
    assert len(tasks_of(incident, "Reviewing")) == 4


# --- Configuration changes do not rewrite in-flight incidents ----------------------------------------


def _task_fields(tasks):
    return [(t.pk, t.title, t.instructions, t.kind, t.required, t.assignee_id, t.state) for t in tasks]


def test_configuration_changes_do_not_rewrite_tasks_in_flight(in_documenting, acme, as_owner, commit):
    before = _task_fields(tasks_of(in_documenting, "Documenting"))
    documenting = list(TaskTemplate.objects.filter(status=status(acme, "Documenting")))

    template_update(template=documenting[1], title="Read the whole timeline", kind=TaskKind.CUSTOM,
                    instructions="Changed", required=False)
    template_delete(template=documenting[3])
    template_create(org=acme, status=status(acme, "Documenting"), title="Draw the architecture")

    assert _task_fields(tasks_of(in_documenting, "Documenting")) == before
    assert fresh(in_documenting).status.name == "Documenting"


def test_the_next_status_takes_the_configuration_of_when_it_is_entered(in_documenting, acme, responder, as_owner,
                                                                        commit):
    reviewing = status(acme, "Reviewing")
    templates = list(TaskTemplate.objects.filter(status=reviewing))
    template_update(template=templates[0], title="Book the debrief", kind=templates[0].kind,
                    instructions="Thirty minutes is enough.", assignee_role=templates[0].assignee_role)
    template_delete(template=templates[3])
    template_create(org=acme, status=reviewing, title="Tell the affected customers", required=False)

    address_all(in_documenting, "Documenting", as_owner, commit)

    tasks = tasks_of(in_documenting, "Reviewing")
    assert [(t.title, t.required) for t in tasks] == [
        ("Book the debrief", True),
        (templates[1].title, True),
        (templates[2].title, True),
        ("Tell the affected customers", False),
    ]
    assert tasks[0].instructions == "Thirty minutes is enough."
    assert tasks[0].assignee == responder
    assert tasks[3].assignee is None

    # And, once entered, Reviewing's tasks stay as they were too.
    before = _task_fields(tasks)
    template_update(template=templates[0], title="Renamed again", kind=TaskKind.CUSTOM)
    template_delete(template=templates[1])
    assert _task_fields(tasks_of(in_documenting, "Reviewing")) == before


# --- People acting on tasks --------------------------------------------------------------------------


def test_complete_not_doing_and_reopen(in_documenting, owner, as_owner, commit):
    review = task_of_kind(in_documenting, "Documenting", TaskKind.REVIEW_TIMELINE)
    timestamps = task_of_kind(in_documenting, "Documenting", TaskKind.UPDATE_TIMESTAMPS)

    commit(task_complete, task=review, actor=as_owner)
    commit(task_not_doing, task=timestamps, actor=as_owner, reason="  They were right all along.  ")

    review.refresh_from_db()
    timestamps.refresh_from_db()
    assert review.state == TaskState.COMPLETED and review.addressed_by == owner and not review.completed_automatically
    assert review.addressed_at is not None
    assert timestamps.state == TaskState.NOT_DOING
    assert timestamps.not_doing_reason == "They were right all along."
    [completed] = completions_of(review)
    assert completed.actor_user == owner and completed.actor_kind == ActorKind.USER
    [skipped] = events(in_documenting, EventKind.TASK_NOT_DOING)
    assert "They were right all along." in skipped.text
    assert skipped.data["reason"] == "They were right all along."

    commit(task_reopen, task=timestamps, actor=as_owner)
    commit(task_reopen, task=review, actor=as_owner)

    review.refresh_from_db()
    timestamps.refresh_from_db()
    assert (review.state, review.addressed_at, review.addressed_by) == (TaskState.OUTSTANDING, None, None)
    assert (timestamps.state, timestamps.not_doing_reason) == (TaskState.OUTSTANDING, "")
    assert len(events(in_documenting, EventKind.TASK_REOPENED)) == 2
    assert fresh(in_documenting).status.name == "Documenting"


def test_completing_a_task_twice_is_one_completion(in_documenting, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.REVIEW_TIMELINE)

    commit(task_complete, task=task, actor=as_owner)
    before = snapshot(in_documenting)
    commit(task_complete, task=task, actor=as_owner)

    assert snapshot(in_documenting) == before
    assert len(completions_of(task)) == 1


def test_assigning_by_hand_stops_the_task_following_its_role(in_documenting, acme, owner, responder, admin,
                                                             as_owner, commit):
    review, timestamps, follow_ups = (
        task_of_kind(in_documenting, "Documenting", kind)
        for kind in (TaskKind.REVIEW_TIMELINE, TaskKind.UPDATE_TIMESTAMPS, TaskKind.CREATE_FOLLOW_UPS)
    )
    commit(task_complete, task=task_of_kind(in_documenting, "Documenting", TaskKind.CREATE_POSTMORTEM),
           actor=as_owner)

    commit(task_assign, task=review, actor=as_owner, user=owner)

    review.refresh_from_db()
    assert review.assignee == owner and review.assigned_manually
    [assigned] = events(in_documenting, EventKind.TASK_ASSIGNED)
    assert assigned.data == {"task_id": str(review.public_id), "user_id": owner.pk}
    assert len([m for m in outbox(in_documenting, "learning.task_assigned") if m.destination == f"dm:{owner.pk}"]) == 1

    commit(incident_assign_role, incident=in_documenting, actor=as_owner, role=lead_role(acme), user=admin)

    assignees = {t.kind: t.assignee for t in tasks_of(in_documenting, "Documenting")}
    assert assignees == {
        TaskKind.CREATE_POSTMORTEM: responder,  # already addressed: stays with who had it
        TaskKind.REVIEW_TIMELINE: owner,  # assigned by hand
        TaskKind.UPDATE_TIMESTAMPS: admin,
        TaskKind.CREATE_FOLLOW_UPS: admin,
    }
    [dm] = [m for m in outbox(in_documenting, "learning.task_assigned") if m.destination == f"dm:{admin.pk}"]
    assert timestamps.title in dm.text and follow_ups.title in dm.text
    assert {timestamps.title, follow_ups.title} == {
        t.title for t in tasks_of(in_documenting, "Documenting") if t.assignee == admin
    }


def test_unassigning_by_hand(in_documenting, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.REVIEW_TIMELINE)

    commit(task_assign, task=task, actor=as_owner, user=None)

    task.refresh_from_db()
    assert task.assignee is None and task.assigned_manually
    [event] = events(in_documenting, EventKind.TASK_ASSIGNED)
    assert "unassigned" in event.text


def test_a_non_member_cannot_be_assigned(in_documenting, outsider, as_owner, commit):
    task = task_of_kind(in_documenting, "Documenting", TaskKind.REVIEW_TIMELINE)
    before = snapshot(in_documenting)

    with pytest.raises(ServiceError) as error:
        commit(task_assign, task=task, actor=as_owner, user=outsider)

    assert error.value.field == "assignee"
    assert snapshot(in_documenting) == before
    task.refresh_from_db()
    assert not task.assigned_manually


def test_tasks_of_a_status_already_left_cannot_change(in_reviewing, owner, as_owner, commit):
    left = tasks_of(in_reviewing, "Documenting")
    before = snapshot(in_reviewing)

    for change in (
        lambda task: task_reopen(task=task, actor=as_owner),
        lambda task: task_not_doing(task=task, actor=as_owner, reason="Changed my mind"),
        lambda task: task_assign(task=task, actor=as_owner, user=owner),
    ):
        with pytest.raises(ServiceError):
            commit(change, task=left[0])

    assert snapshot(in_reviewing) == before


# --- Advancing --------------------------------------------------------------------------------------------


def test_addressing_every_documenting_task_moves_to_reviewing(in_documenting, acme, responder, as_owner, commit):
    tasks = tasks_of(in_documenting, "Documenting")
    commit(task_complete, task=tasks[0], actor=as_owner)
    commit(task_not_doing, task=tasks[1], actor=as_owner, reason="Nothing happened outside the tool.")
    commit(task_complete, task=tasks[2], actor=as_owner)
    assert fresh(in_documenting).status.name == "Documenting"  # one still outstanding

    commit(task_not_doing, task=tasks[3], actor=as_owner)

    incident = fresh(in_documenting)
    assert incident.status == status(acme, "Reviewing")
    assert incident.learning_flow == LearningFlowState.RUNNING
    assert incident.closed_at is None
    reviewing = tasks_of(incident, "Reviewing")
    assert [t.kind for t in reviewing] == REVIEWING_KINDS
    assert all(t.state == TaskState.OUTSTANDING and t.assignee == responder for t in reviewing)
    [moved] = events(incident, EventKind.LEARNING_STATUS_CHANGED)
    assert moved.actor_kind == ActorKind.SYSTEM
    assert moved.data["from"] == "Documenting" and moved.data["to"] == "Reviewing"
    posted = outbox(incident, "learning.tasks_posted")
    assert len(posted) == 2
    assert "Documenting" in posted[0].text and "Reviewing" in posted[1].text
    assert all(t.title in posted[1].text for t in reviewing)
    # The addressed tasks keep their state.
    assert [t.state for t in tasks_of(incident, "Documenting")] == [
        TaskState.COMPLETED, TaskState.NOT_DOING, TaskState.COMPLETED, TaskState.NOT_DOING,
    ]


def test_finishing_reviewing_completes_the_flow_and_closes(in_reviewing, acme, as_owner, commit):
    address_all(in_reviewing, "Reviewing", as_owner, commit)

    incident = fresh(in_reviewing)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.COMPLETED
    assert incident.closed_at is not None
    assert len(events(incident, EventKind.LEARNING_STATUS_CHANGED)) == 1
    [completed] = events(incident, EventKind.LEARNING_FLOW_COMPLETED)
    assert completed.actor_kind == ActorKind.SYSTEM
    assert len(events(incident, EventKind.CLOSED)) == 1
    posted = outbox(incident, "learning.tasks_posted")
    assert [m.dedupe_key for m in posted] == [
        f"learning.tasks_posted:{incident.pk}:{status(acme, 'Documenting').pk}",
        f"learning.tasks_posted:{incident.pk}:{status(acme, 'Reviewing').pk}",
    ]
    assert len(outbox(incident, "learning.completed")) == 1
    assert not LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING).exists()


def test_optional_tasks_left_open_are_marked_not_doing_on_advance(acme, owner, responder, as_owner, commit):
    template_create(org=acme, status=status(acme, "Documenting"), title="Draw the architecture", required=False)
    incident = declare(acme, owner, "Minor", lead=responder)
    commit(incident_close, incident=incident, actor=as_owner, learning_flow="run")
    optional = LearningTask.objects.get(incident=incident, title="Draw the architecture")
    assert not optional.required and optional.state == TaskState.OUTSTANDING

    for task in tasks_of(incident, "Documenting"):
        if task.required:
            commit(task_complete, task=task, actor=as_owner)

    assert fresh(incident).status.name == "Reviewing"
    optional.refresh_from_db()
    assert optional.state == TaskState.NOT_DOING
    assert optional.not_doing_reason
    assert optional.addressed_at is not None


def test_advancing_again_from_the_same_status_changes_nothing(in_reviewing, acme, commit):
    before = snapshot(in_reviewing)

    assert commit(learning_advance, incident_id=in_reviewing.pk, from_status_id=status(acme, "Documenting").pk) is False
    # Reviewing still has outstanding tasks: it does not advance either.
    assert commit(learning_advance, incident_id=in_reviewing.pk, from_status_id=status(acme, "Reviewing").pk) is False
    assert commit(learning_advance, incident_id=0, from_status_id=status(acme, "Reviewing").pk) is False

    assert snapshot(in_reviewing) == before


def test_opting_out_from_inside_the_flow(in_documenting, owner, as_owner, commit):
    done = task_of_kind(in_documenting, "Documenting", TaskKind.REVIEW_TIMELINE)
    commit(task_complete, task=done, actor=as_owner)

    with pytest.raises(ServiceError):
        commit(learning_opt_out, incident=in_documenting, actor=as_owner, reason="  ")
    assert fresh(in_documenting).learning_flow == LearningFlowState.RUNNING

    commit(learning_opt_out, incident=in_documenting, actor=as_owner, reason="The team moved on to INC-9.")

    incident = fresh(in_documenting)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.learning_flow == LearningFlowState.OPTED_OUT
    assert incident.opt_out_reason == "The team moved on to INC-9."
    assert incident.opted_out_by == owner
    assert incident.closed_at is not None
    states = {t.kind: t.state for t in tasks_of(incident, "Documenting")}
    assert states[TaskKind.REVIEW_TIMELINE] == TaskState.COMPLETED
    assert [s for k, s in states.items() if k != TaskKind.REVIEW_TIMELINE] == [TaskState.NOT_DOING] * 3
    [opted_out] = events(incident, EventKind.LEARNING_FLOW_OPTED_OUT)
    assert opted_out.text == "The team moved on to INC-9." and opted_out.actor_user == owner
    assert len(events(incident, EventKind.CLOSED)) == 1  # from when it entered the flow
    [message] = outbox(incident, "learning.opted_out")
    assert "The team moved on to INC-9." in message.text

    # Out of the flow: no more opting out, and its tasks are frozen.
    before = snapshot(incident)
    with pytest.raises(ServiceError):
        commit(learning_opt_out, incident=incident, actor=as_owner, reason="Again")
    with pytest.raises(ServiceError):
        commit(task_reopen, task=done, actor=as_owner)
    assert snapshot(incident) == before


# --- Repairing lost advances ------------------------------------------------------------------------


def test_repair_advances_an_incident_whose_advance_was_lost(in_documenting, acme, owner, responder, as_owner,
                                                            commit):
    other = declare(acme, owner, "Minor", lead=responder)
    commit(incident_close, incident=other, actor=as_owner, learning_flow="run")
    # A lost job: the tasks were addressed but no advance ran.
    LearningTask.objects.filter(incident=in_documenting).update(state=TaskState.COMPLETED, addressed_at=timezone.now())
    assert fresh(in_documenting).status.name == "Documenting"

    assert commit(lambda: repair_stuck_incidents.delay().get()) == 1

    incident = fresh(in_documenting)
    assert incident.status.name == "Reviewing"
    assert len(tasks_of(incident, "Reviewing")) == 4
    assert len(events(incident, EventKind.LEARNING_STATUS_CHANGED)) == 1
    assert len(outbox(incident, "learning.tasks_posted")) == 2
    assert fresh(other).status.name == "Documenting"  # its tasks are outstanding: left alone

    assert commit(lambda: repair_stuck_incidents.delay().get()) == 0
    assert len(events(incident, EventKind.LEARNING_STATUS_CHANGED)) == 1


def test_reordering_statuses_mid_flow_never_sends_an_incident_back(acme, in_reviewing, as_owner, commit):
    """Found by tests/learning/test_flow_stateful.py: moving Reviewing before
    Documenting while an incident is in Reviewing sent it back to Documenting,
    with a second set of tasks and a second advance out of it."""
    from learning.selectors import default_flow
    from learning.services.configuration import flow_status_move

    flow_status_move(flow=default_flow(org=acme), status=status(acme, "Reviewing"), direction="up")
    address_all(in_reviewing, "Reviewing", as_owner, commit)

    incident = fresh(in_reviewing)
    assert incident.learning_flow == LearningFlowState.COMPLETED
    assert len(tasks_of(incident, "Documenting")) == 4  # one set, from the first pass
    moves = [(e.data["from"], e.data["to"]) for e in events(incident, EventKind.LEARNING_STATUS_CHANGED)]
    assert moves == [("Documenting", "Reviewing")]
    [completed] = events(incident, EventKind.LEARNING_FLOW_COMPLETED)
    assert completed.data["from"] == "Reviewing"


def test_a_status_without_tasks_is_not_entered_again_after_a_reorder(acme, owner, as_owner, commit):
    """A status without templates leaves no tasks behind; the incident has still
    been in it (``LearningStatusVisit``), so moving it after the current status
    does not send the incident back into it."""
    from learning.selectors import default_flow
    from learning.services.configuration import flow_status_create, flow_status_move

    flow = default_flow(org=acme)
    empty = flow_status_create(flow=flow, name="Gathering")
    flow_status_move(flow=flow, status=empty, direction="up")
    flow_status_move(flow=flow, status=empty, direction="up")  # Gathering, Documenting, Reviewing
    incident = commit(incident_close, incident=declare(acme, owner), actor=as_owner, learning_flow="run")
    assert fresh(incident).status.name == "Documenting"  # nothing to do in Gathering: moved on at once

    flow_status_move(flow=flow, status=empty, direction="down")  # Documenting, Gathering, Reviewing
    address_all(incident, "Documenting", as_owner, commit)

    assert fresh(incident).status.name == "Reviewing"
    moves = [(e.data["from"], e.data["to"]) for e in events(incident, EventKind.LEARNING_STATUS_CHANGED)]
    assert moves == [("Gathering", "Documenting"), ("Documenting", "Reviewing")]
    assert outbox(incident, "learning.tasks_posted")[0].data == {"status_id": empty.pk}
