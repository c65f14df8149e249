"""learning 0009 backfills ``LearningStatusVisit.left_at`` for visits made
before the flow recorded it: exactly what the flow records today (the next
visit's entry, else the close), and nothing for the status a running
incident is in (the Post-incident page reads those by index)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningStatusVisit, LearningTask, TaskState
from learning.services.flow import incident_close, learning_opt_out
from learning.services.tasks import task_complete

pytestmark = pytest.mark.django_db(transaction=True)


def _address_current_status(incident, actor):
    for task in LearningTask.objects.filter(incident=incident, status_id=incident.status_id,
                                            state=TaskState.OUTSTANDING):
        task_complete(task=task, actor=actor)
    incident.refresh_from_db()


def _left_at() -> dict[int, object]:
    return dict(LearningStatusVisit.objects.order_by("pk").values_list("pk", "left_at"))


def test_the_backfill_gives_every_visit_the_left_at_the_flow_records(acme, owner, eager_celery):
    actor = Actor.for_user(owner)

    def in_flow(name):
        return incident_close(incident=incident_declare(org=acme, actor=actor, name=name), actor=actor,
                              learning_flow="run")

    moved_on = in_flow("Moved on to Reviewing")
    _address_current_status(moved_on, actor)  # eager Celery: the advance runs at once
    completed = in_flow("Completed")
    _address_current_status(completed, actor)
    _address_current_status(completed, actor)
    learning_opt_out(incident=in_flow("Opted out"), actor=actor, reason="A drill.")
    in_flow("Still documenting")
    recorded = _left_at()
    assert completed.status.name == "Closed" and moved_on.status.name == "Reviewing"
    assert sum(left is None for left in recorded.values()) == 2  # Reviewing of one, Documenting of the other

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("learning", "0008_next_reminder_at")])
    executor = MigrationExecutor(connection)  # reload what is applied
    executor.migrate(latest)

    assert _left_at() == recorded
