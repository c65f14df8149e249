"""``lock_incident`` survives a status change it had to wait for.

Locking the incident through a join (``SELECT … JOIN status … FOR UPDATE``)
is wrong under concurrency: when the locking query waits for a transaction
that changes ``status_id`` and commits, Postgres re-checks the join with the
new incident row against the *old* status row (EvalPlanQual), finds no match
and returns no row, so ``lock_incident`` raised Incident.DoesNotExist (a 500
under load). This test makes that interleaving happen on purpose, on real
connections: A changes the status and holds the row lock, B calls
``lock_incident`` and is seen waiting on the lock in Postgres, then A
commits.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentStatus
from incidentio.incidents.services.incidents import incident_declare, lock_incident
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30  # seconds; generous, only reached when something is already wrong


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def is_waiting_on(waiter_pid: int, holder_pid: int) -> bool:
    """Whether ``waiter_pid`` is blocked on a heavyweight lock held by ``holder_pid``.

    Asked from inside the holder's open transaction, so the activity snapshot
    (taken once per transaction) is cleared first; pg_blocking_pids reads the
    lock manager live.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid)) FROM pg_stat_activity WHERE pid = %s",
            [holder_pid, waiter_pid],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def test_lock_incident_waits_out_a_status_change_and_returns_the_new_status(acme, owner):
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Database is slow")
    old_status = incident.status
    new_status = IncidentStatus.objects.get(org=acme, name="Fixing")
    assert new_status.pk != old_status.pk

    status_changed = threading.Event()  # A has updated the row and holds its lock
    b_pid: list[int] = []  # B's backend, for A to watch
    b_about_to_lock = threading.Event()

    def changer() -> str:
        """A: change the status, keep the row locked until B waits on it, commit."""
        with transaction.atomic():
            Incident.objects.filter(pk=incident.pk).update(status=new_status)
            status_changed.set()
            assert b_about_to_lock.wait(WAIT), "B never got ready to lock"
            a_pid = backend_pid()
            deadline = time.monotonic() + WAIT
            while not is_waiting_on(b_pid[0], a_pid):
                assert time.monotonic() < deadline, "B never waited for A's row lock"
                time.sleep(0.01)
        return "committed"

    def locker() -> Incident:
        """B: lock the incident while A holds it; returns once A has committed."""
        b_pid.append(backend_pid())
        assert status_changed.wait(WAIT), "A never changed the status"
        with transaction.atomic():
            b_about_to_lock.set()
            return lock_incident(incident)

    results, errors = run_in_threads(lambda i: (changer, locker)[i](), 2)

    assert errors == []
    assert results[0] == "committed"
    locked = results[1]
    assert locked.pk == incident.pk
    assert locked.status_id == new_status.pk
    assert locked.status.name == "Fixing"  # the related row came along, and is the new one
    assert locked.org_id == acme.pk
    assert Incident.objects.get(pk=incident.pk).status_id == new_status.pk
