"""Declares racing each other on Postgres get distinct, gapless references.

The counter row lock is the only thing standing between two simultaneous
declares and a duplicate INC-n, so this runs real threads on real
connections against Postgres.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Incident, IncidentCounter, TimelineEvent
from incidentio.incidents.services.incidents import incident_declare
from tests.concurrency import run_in_threads

THREADS = 8
DECLARES_PER_THREAD = 5

pytestmark = pytest.mark.django_db(transaction=True)


class Abort(Exception):
    """Raised to roll back an outer transaction after a declare took its number."""


def numbers(org) -> list[int]:
    return sorted(Incident.objects.filter(org=org).values_list("number", flat=True))


def test_concurrent_declares_get_distinct_gapless_references(acme, owner):
    actor = Actor.for_user(owner)

    def declare_five(i: int) -> None:
        for n in range(DECLARES_PER_THREAD):
            incident_declare(org=acme, actor=actor, name=f"Thread {i} incident {n}")

    _, errors = run_in_threads(declare_five, THREADS)

    assert errors == []
    total = THREADS * DECLARES_PER_THREAD
    assert numbers(acme) == list(range(1, total + 1))
    assert IncidentCounter.objects.get(org=acme).last_number == total
    assert TimelineEvent.objects.filter(incident__org=acme, kind="declared").count() == total


def test_failed_declares_in_the_race_do_not_consume_numbers(acme, globex, owner, outsider):
    acme_actor, globex_actor = Actor.for_user(owner), Actor.for_user(outsider)
    refused = []

    def declare_with_failures(i: int) -> None:
        org, actor = (acme, acme_actor) if i % 2 == 0 else (globex, globex_actor)
        for n in range(DECLARES_PER_THREAD):
            incident_declare(org=org, actor=actor, name=f"Thread {i} incident {n}")
            if n == 1:
                # Refused by the service: nothing written.
                try:
                    incident_declare(org=org, actor=actor, name="   ")
                except ServiceError:
                    refused.append(i)
            if n == 2:
                # Took a number, then the caller's transaction rolled back: the number returns.
                try:
                    with transaction.atomic():
                        incident_declare(org=org, actor=actor, name=f"Thread {i} rolled back")
                        raise Abort
                except Abort:
                    pass

    _, errors = run_in_threads(declare_with_failures, THREADS)

    assert errors == []
    assert len(refused) == THREADS
    per_org = THREADS // 2 * DECLARES_PER_THREAD
    assert numbers(acme) == list(range(1, per_org + 1))
    assert numbers(globex) == list(range(1, per_org + 1))
    assert IncidentCounter.objects.get(org=acme).last_number == per_org
    assert IncidentCounter.objects.get(org=globex).last_number == per_org
    assert not Incident.objects.filter(name__endswith="rolled back").exists()


def test_a_refused_declare_between_two_does_not_skip_a_number(acme, owner):
    actor = Actor.for_user(owner)

    first = incident_declare(org=acme, actor=actor, name="First")
    with pytest.raises(ServiceError):
        incident_declare(org=acme, actor=actor, name="")
    second = incident_declare(org=acme, actor=actor, name="Second")

    assert (first.reference, second.reference) == ("INC-1", "INC-2")
