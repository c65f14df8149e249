"""Auto-advance happens exactly once, under real concurrency (docs/learning-flow.md).

"When every task of the current learning status is completed or not doing,
the incident moves to the next learning status … exactly once, even when the
last two tasks are addressed at the same moment or the same event arrives
twice." Only the incident row lock and the compare-and-set in
``learning_advance`` stand between two simultaneous changes and a double (or
missing) advance, so these tests run real threads on real connections against
Postgres.

Celery is eager here: the advance runs in the committing thread's on-commit
hook, so the threads also race the advance itself.
"""

from __future__ import annotations

import itertools

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    EventKind,
    Incident,
    IncidentStatus,
    LearningFlowState,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services.documents import postmortem_create, postmortem_share
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask, TaskKind, TaskState
from learning.services.flow import incident_close
from learning.services.tasks import task_complete
from learning.tasks import advance_incident
from slackbot.models import OutboxMessage
from tests.concurrency import run_in_threads

ROUNDS = 20

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance and the outbox delivery run in-process, in the committing thread."""


def status(org, name: str) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def count_events(incident, kind: str) -> int:
    return TimelineEvent.objects.filter(incident=incident, kind=kind).count()


def tasks_of(incident, status_name: str) -> list[LearningTask]:
    return list(LearningTask.objects.filter(incident=incident, status__name=status_name).order_by("rank", "pk"))


def tasks_posted(incident, status_obj) -> int:
    return OutboxMessage.objects.filter(
        incident=incident, kind="learning.tasks_posted",
        dedupe_key=f"learning.tasks_posted:{incident.pk}:{status_obj.pk}",
    ).count()


def into_documenting(org, user, lead, n: int) -> Incident:
    actor = Actor.for_user(user)
    incident = incident_declare(
        org=org, actor=actor, name=f"Race {n}", severity=Severity.objects.get(org=org, name="Minor"), lead=lead,
    )
    incident_close(incident=incident, actor=actor, learning_flow="run")
    return Incident.objects.select_related("status").get(pk=incident.pk)


def assert_advanced_once_into_reviewing(incident, reviewing, label: str) -> None:
    incident = Incident.objects.select_related("status").get(pk=incident.pk)
    assert incident.status == reviewing, f"{label}: in {incident.status.name}, not Reviewing"
    assert incident.learning_flow == LearningFlowState.RUNNING, label
    assert count_events(incident, EventKind.LEARNING_STATUS_CHANGED) == 1, label
    assert tasks_posted(incident, reviewing) == 1, label
    assert len(tasks_of(incident, "Reviewing")) == 4, label
    assert not LearningTask.objects.filter(
        incident=incident, status__name="Documenting", state=TaskState.OUTSTANDING
    ).exists(), label


def test_last_two_tasks_completed_together_advance_once(acme, owner, responder, admin):
    reviewing = status(acme, "Reviewing")
    actors = [Actor.for_user(responder), Actor.for_user(admin)]
    # Every pair of the four Documenting tasks gets to be the racing pair.
    pairs = itertools.cycle(itertools.combinations(range(4), 2))

    for n in range(ROUNDS):
        incident = into_documenting(acme, owner, responder, n)
        tasks = tasks_of(incident, "Documenting")
        assert len(tasks) == 4
        racing = next(pairs)
        for index, task in enumerate(tasks):
            if index not in racing:
                task_complete(task=task, actor=Actor.for_user(owner))
        incident.refresh_from_db()
        assert incident.status.name == "Documenting"
        assert LearningTask.objects.filter(
            incident=incident, status__name="Documenting", required=True, state=TaskState.OUTSTANDING
        ).count() == 2

        _, errors = run_in_threads(lambda i: task_complete(task=tasks[racing[i]], actor=actors[i]))

        assert errors == [], f"round {n}: {errors!r}"
        assert all(t.state == TaskState.COMPLETED for t in tasks_of(incident, "Documenting")), f"round {n}"
        assert_advanced_once_into_reviewing(incident, reviewing, f"round {n}")


def test_the_same_event_twice_completes_the_task_once(acme, owner, responder, admin):
    reviewing = status(acme, "Reviewing")
    actors = [Actor.for_user(responder), Actor.for_user(admin)]

    for n in range(10):
        incident = into_documenting(acme, owner, responder, n)
        postmortem = postmortem_create(incident=incident, actor=Actor.for_user(owner))
        for task in tasks_of(incident, "Documenting"):
            if task.state == TaskState.OUTSTANDING:
                task_complete(task=task, actor=Actor.for_user(owner))
        assert Incident.objects.get(pk=incident.pk).status == reviewing
        share = LearningTask.objects.get(incident=incident, status=reviewing, kind=TaskKind.SHARE_POSTMORTEM)

        _, errors = run_in_threads(lambda i: postmortem_share(postmortem=postmortem, actor=actors[i]))

        assert errors == [], f"round {n}: {errors!r}"
        assert count_events(incident, EventKind.POSTMORTEM_SHARED) == 1, f"round {n}"
        completions = TimelineEvent.objects.filter(
            incident=incident, kind=EventKind.TASK_COMPLETED, data__task_id=str(share.public_id)
        )
        assert completions.count() == 1, f"round {n}"
        share.refresh_from_db()
        assert share.state == TaskState.COMPLETED and share.completed_automatically
        assert Incident.objects.get(pk=incident.pk).status == reviewing  # other Reviewing tasks are outstanding


def test_two_follow_ups_created_together_complete_the_task_once(acme, owner, responder, admin):
    actors = [Actor.for_user(responder), Actor.for_user(admin)]

    for n in range(10):
        incident = into_documenting(acme, owner, responder, n)
        task = LearningTask.objects.get(incident=incident, kind=TaskKind.CREATE_FOLLOW_UPS)

        _, errors = run_in_threads(
            lambda i: follow_up_create(incident=incident, actor=actors[i], title=f"Follow-up {i}")
        )

        assert errors == [], f"round {n}: {errors!r}"
        assert count_events(incident, EventKind.FOLLOW_UP_CREATED) == 2, f"round {n}"
        completions = TimelineEvent.objects.filter(
            incident=incident, kind=EventKind.TASK_COMPLETED, data__task_id=str(task.public_id)
        )
        assert completions.count() == 1, f"round {n}"


def test_advance_job_delivered_twice_advances_once(acme, owner, responder):
    documenting, reviewing = status(acme, "Documenting"), status(acme, "Reviewing")

    for n in range(10):
        incident = into_documenting(acme, owner, responder, n)
        # The tasks were addressed without their hook (a lost job), so nothing advanced yet.
        LearningTask.objects.filter(incident=incident).update(state=TaskState.COMPLETED)
        assert Incident.objects.get(pk=incident.pk).status == documenting

        # Eager: .delay() runs the job in the thread; .result is what it returned.
        results, errors = run_in_threads(lambda i: advance_incident.delay(incident.pk, documenting.pk).result)

        assert errors == [], f"round {n}: {errors!r}"
        assert sorted(results) == [False, True], f"round {n}: {results}"
        assert_advanced_once_into_reviewing(incident, reviewing, f"round {n}")
