"""Scenario 7, the reminder sweep (issue 18), measured inside Django with the stack's settings:

    python manage.py shell -c "from bench.sweep import main; main(steady_runs=5)"

prints one ``SWEPT {json}`` line. It runs ``learning.services.reminders.reminders_sweep``
as the beat's task does, in this process:

1. **Small org** (the comparison): the first sweep and a steady-state sweep over the
   items of one small org alone (the one, other than the biggest, with the most
   overdue work), to count the queries a batch costs on little data.
2. **First sweep** over the whole generated backlog: every outstanding task and
   follow-up whose slot has come gets its one reminder (and its escalation).
3. **Steady state**: ``steady_runs`` sweeps right after, every slot already sent.

Queries are counted per batch: a batch starts when the sweep reads its items
(``reminders._batch``); the queries the escalations' timeline events cost
(``reminders._record_escalations``: an insert and the incidents'
``timeline_version``, for the batch's escalations together) are counted apart,
so "queries per batch" is what a batch costs whether it escalates or not.
The outbox rows are written and their delivery jobs published to the stack's
Redis on commit, as in production; nothing is delivered here (the run stops the
Celery worker first), so no Slack, fake or real, is involved. With Celery eager
(no broker) the jobs would deliver in this process: that is refused.
"""

from __future__ import annotations

import json
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q

from learning.services import reminders
from orgs.models import Organization


@dataclass
class Counted:
    seconds: float = 0.0
    queries: int = 0
    batches: list = field(default_factory=list)  # queries per batch, in order
    escalation_queries: int = 0
    outside_batches: int = 0  # before the first batch (the sweep's own set-up)
    items: int = 0
    reminders: int = 0
    escalations: int = 0

    def summary(self) -> dict:
        full = self.batches[:-1] or self.batches  # every batch but the last, short one
        return {
            "seconds": round(self.seconds, 3), "queries": self.queries, "batches": len(self.batches),
            "items": self.items, "reminders": self.reminders, "escalations": self.escalations,
            "queries_per_batch_max": max(self.batches, default=0),
            "queries_per_full_batch_max": max(full, default=0),
            "queries_outside_batches": self.outside_batches,
            "escalation_queries": self.escalation_queries,
        }


@contextmanager
def counting(counted: Counted):
    """Count the sweep's queries per batch, escalation events apart."""
    real_batch, real_escalation = reminders._batch, reminders._record_escalations
    escalating = False

    def batch(*args, **kwargs):
        counted.batches.append(0)
        return real_batch(*args, **kwargs)

    def record_escalation(*args, **kwargs):
        nonlocal escalating
        escalating = True
        try:
            return real_escalation(*args, **kwargs)
        finally:
            escalating = False

    def counter(execute, sql, params, many, context):
        # A savepoint is the batch's transaction nesting, not work; a PREPARE sets up the connection.
        if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "PREPARE ")):
            counted.queries += 1
            if escalating:
                counted.escalation_queries += 1
            elif counted.batches:
                counted.batches[-1] += 1
            else:
                counted.outside_batches += 1
        return execute(sql, params, many, context)

    reminders._batch, reminders._record_escalations = batch, record_escalation
    try:
        with connection.execute_wrapper(counter):
            yield counted
    finally:
        reminders._batch, reminders._record_escalations = real_batch, real_escalation


@contextmanager
def only_org(org: Organization):
    """The sweep over one org's items: the same statements with one more condition."""
    real = reminders._outstanding

    def outstanding(kind):
        items = real(kind)
        return items.filter(org=org) if kind == reminders.TASK else items.filter(incident__org=org)

    reminders._outstanding = outstanding
    try:
        yield
    finally:
        reminders._outstanding = real


def sweep(batch_size: int) -> Counted:
    counted = Counted()
    with counting(counted):
        started = time.perf_counter()
        result = reminders.reminders_sweep(batch_size=batch_size)
        counted.seconds = time.perf_counter() - started
    counted.items, counted.reminders, counted.escalations = result.items, result.reminders, result.escalations
    return counted


def backlog() -> dict:
    """What the sweep has to look at: outstanding items with a due date, and those overdue."""
    from django.utils import timezone

    now = timezone.now()
    out = {}
    for kind in (reminders.TASK, reminders.FOLLOW_UP):
        items = reminders._outstanding(kind)
        out[kind] = {"with_due_date": items.count(), "overdue": items.filter(due_at__lte=now).count()}
    return out


def small_org() -> Organization:
    """The org, other than the one with the most incidents, with the most overdue work."""
    from django.utils import timezone

    now = timezone.now()
    big = Organization.objects.annotate(n=Count("incidents")).order_by("-n", "pk").first()
    overdue_tasks = Q(learning_tasks__state="outstanding", learning_tasks__due_at__lte=now)
    counted = Organization.objects.exclude(pk=big.pk).annotate(
        overdue_task_count=Count("learning_tasks", filter=overdue_tasks, distinct=True),
        overdue_follow_up_count=Count("follow_ups", distinct=True, filter=Q(
            follow_ups__status="outstanding", follow_ups__due_at__lte=now)),
    )
    return max(counted, key=lambda org: (org.overdue_task_count + org.overdue_follow_up_count, -org.pk))


def run(*, steady_runs: int, batch_size: int | None = None) -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        raise RuntimeError("the sweep bench needs a Celery broker (REDIS_URL): eager Celery would deliver "
                           "every reminder from this process")
    batch_size = batch_size or reminders.BATCH_SIZE  # smaller in the tests: their data in several batches
    small = small_org()
    before = backlog()
    with only_org(small):
        small_first, small_steady = sweep(batch_size), sweep(batch_size)
    first = sweep(batch_size)
    steady = [sweep(batch_size) for _ in range(steady_runs)]
    times = sorted(s.seconds * 1000 for s in steady)
    return {
        "name": "reminder_sweep", "batch_size": batch_size, "backlog": before,
        "small_org": {"slug": small.slug, "first": small_first.summary(), "steady": small_steady.summary()},
        "first": first.summary(),
        "steady": {
            "runs": [s.summary() for s in steady],
            "p50_ms": statistics.median(times),
            # The nearest rank: with a handful of runs, the slowest but one at most.
            "p95_ms": times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))],
            "max_ms": times[-1],
        },
    }


def main(steady_runs: int = 5, batch_size: int | None = None) -> None:
    print("SWEPT " + json.dumps(run(steady_runs=steady_runs, batch_size=batch_size)))

