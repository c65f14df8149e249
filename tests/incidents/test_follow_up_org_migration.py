"""incidentio 0011 gives every existing follow-up its incident's org (Insights
counts an org's follow-ups by that column)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_backfill_gives_each_follow_up_its_incidents_org(acme, globex, owner, outsider):
    for org, person, title in ((acme, owner, "Acme's"), (globex, outsider, "Globex's")):
        actor = Actor.for_user(person)
        incident = incident_declare(org=org, actor=actor, name=f"{title} outage")
        follow_up_create(incident=incident, actor=actor, title=f"{title} fix")

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("incidentio", "0010_incident_insights_idx")])
    executor = MigrationExecutor(connection)  # reload what is applied
    executor.migrate(latest)

    assert dict(FollowUp.objects.values_list("title", "org__slug")) == {
        "Acme's fix": acme.slug, "Globex's fix": globex.slug}
