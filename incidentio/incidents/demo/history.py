"""A year of Acme's incidents before the demo's story, so that every chart of
the Insights page (docs/insights.md) has something to show over the last 90
days and over the last 365.

What it holds: about sixty incidents over the last twelve months, more in the
recent weeks, of each severity and type; identified, fixed and resolved
minutes to hours after they were reported; closed into the learning flow
(finished, opted out of halfway, or still running with work outstanding, some
of it overdue and someone's), opted out of it with a few recurring reasons, or
closed without it (*Maintenance* incidents, a type the year adds, never run
it); tasks completed by hand, completed automatically and not done, with
recurring reasons; follow-ups of every priority, most done (some after their
due date), some open for days, weeks or months; a few reports declined, or
merged into another incident.

It is drawn by one ``random.Random`` with a fixed seed, counted back from the
day of seeding: the draws do not depend on the day, so the year is the same
whenever it is seeded, and the default range always has data. What a chart
needs to have each of its bars comes in turn rather than by chance (how the
learning flows go, the usual opt-out reasons, priorities, follow-ups done on
time or late, a Critical incident every ninth, some open follow-ups of each
age). Its references follow the story's seven (docs/api.md's examples name
INC-3 to INC-5), oldest first: INC-8 is about a year old.

How the past is written: every incident goes through the product's services,
as the story's do, so its timeline, learning-status visits, tasks, follow-ups
and due dates are the ones the product makes. The services stamp "now", so a
``_Clock`` notes before each step the moment of the year it stands for, and
once the year is built every timestamp the services wrote is moved to its
step's moment (``_Clock.move``). Due dates are then counted again from the
moved timestamps by the product's rules, and the year's Slack messages are
recorded as sent: they went out at the time (``_Year.settle``).
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    FollowUpPriority,
    FollowUpStatus,
    Incident,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    Postmortem,
    PostmortemStatus,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services import configuration, documents, follow_ups, incidents
from learning.models import LearningRun, LearningStatusVisit, LearningTask, TaskKind, TaskState, UnmatchedPolicy
from learning.services.configuration import rules_update
from learning.services.due_dates import follow_up_due_at, follow_up_rules, task_due_at
from learning.services.flow import LearningFlowChoice, incident_close, learning_advance, learning_opt_out
from learning.services.reminders import next_look, reminder_policy_get
from learning.services.rules import FlowDecision, decide
from learning.services.tasks import task_complete, task_not_doing
from orgs.calendar import WorkingCalendar, add_business_days
from slackbot.models import OutboxMessage, OutboxState

SEED = 19
#: How many days back the year goes, and how recent its newest incident is: the
#: story's incidents are the last few days'. Three days back, the response to
#: the newest (a day and a half at most) is over before seeding.
OLDEST_DAYS, NEWEST_DAYS = 364, 3
#: A step of the year later than this before seeding has not happened yet.
NOT_YET = timedelta(minutes=5)
#: No reminder about the year's work is due in the first day after seeding:
#: each item's next look is worked out as of then (``_Year.settle``).
QUIET_AFTER_SEEDING = timedelta(days=1)

NO_IMPACT = "No customer impact"
DUPLICATE = "Duplicate of a known issue"
VENDOR = "Vendor outage, nothing to learn"
RIGHT_TIMESTAMPS = "The timestamps were right from the start"
OPS_REVIEW = "Discussed in the weekly ops review instead"
#: How the learning flows of the year go, in turn (as far as they got by the day of seeding):
#: finished; finished without a post-mortem of their own, the latest big review covering it;
#: stalled at a task with a due date, left to go overdue; or opted out of halfway.
FINISHED, COVERED_BY_REVIEW, STALLED, OPTED_OUT = "finished", "covered", "stalled", "opted out"
FLOW_COURSES = [FINISHED, FINISHED, STALLED, COVERED_BY_REVIEW, FINISHED, STALLED, FINISHED, OPTED_OUT, FINISHED,
                STALLED]
#: Stands for "Covered by the INC-… review", naming the latest big review before the incident (``_covered_by``).
COVERED = object()


@dataclass(frozen=True)
class _Kind:
    """One kind of incident Acme has: its name, summary and type, how often it is Minor or Major
    (weights), and whether it can be Critical."""

    name: str
    summary: str
    type: str = "Default"
    severities: tuple[int, int] = (2, 1)
    critical: bool = False
    vendor: bool = False


KINDS = [
    _Kind("Checkout latency above 2 s", "p95 checkout latency doubled after the morning deploy.", severities=(3, 5),
          critical=True),
    _Kind("Payment provider timeouts", "Card authorisations time out at the payment provider.", severities=(2, 5),
          critical=True, vendor=True),
    _Kind("Login failures for SSO customers", "SAML logins fail with an invalid signature.", severities=(3, 4),
          critical=True),
    _Kind("Search index lagging behind writes", "New records take up to 30 minutes to be searchable."),
    _Kind("Webhook deliveries delayed", "Outbound webhooks queue for up to 20 minutes."),
    _Kind("CSV exports failing for large accounts", "Exports over 100,000 rows time out.", severities=(3, 1)),
    _Kind("iOS app crashes on launch", "The 7.2 release crashes on launch on iOS 16.", severities=(1, 3),
          critical=True),
    _Kind("Email notifications not sent", "The e-mail provider rejects our messages.", vendor=True),
    _Kind("Elevated 5xx on the public API", "About 3% of API requests fail with 503.", severities=(3, 4),
          critical=True),
    _Kind("Database failover took the API down", "The primary failed over; the API was down for minutes.",
          severities=(0, 1), critical=True),
    _Kind("Dashboard charts empty for EU customers", "Charts render without data in eu-west-1."),
    _Kind("Invoices charged twice", "The billing run charged some invoices twice.", severities=(1, 3), critical=True),
    _Kind("CDN serving stale assets", "Some customers get last week's JavaScript bundle.", vendor=True),
    _Kind("Background jobs backed up", "The job queue is 40 minutes behind.", severities=(1, 1)),
    _Kind("Reporting database disk full", "Nightly reports stopped; the disk is at 100%."),
    _Kind("Rate limiter blocking legitimate traffic", "Customers behind shared NATs get 429s."),
    _Kind("Leaked deploy token in a public gist", "A CI token was pasted into a public gist.", type="Security",
          severities=(3, 4), critical=True),
    _Kind("Credential-stuffing attack on login", "Thousands of failed logins from a few IP ranges.",
          type="Security", severities=(3, 4)),
    _Kind("Suspicious admin sign-in", "An admin account signed in from a new country.", type="Security",
          severities=(5, 2)),
    _Kind("Storage bucket briefly public", "A misapplied policy made an assets bucket public.", type="Security",
          severities=(1, 2), critical=True),
    _Kind("Database upgrade overran its window", "The Postgres upgrade ran 40 minutes over.", type="Maintenance",
          severities=(5, 2)),
    _Kind("Network maintenance caused API errors", "Brief API errors during the provider's maintenance.",
          type="Maintenance", severities=(6, 1)),
]
#: Every this many incidents, from the most recent back, a big one: a Critical incident (so the most
#: recent is one, its learning flow under way on the day of seeding).
CRITICAL_EVERY = 9

FOLLOW_UPS = [
    "Add an alert on the error ratio", "Write a runbook for this failure", "Add a canary stage to the deploy",
    "Load-test the new configuration", "Retry with backoff on provider timeouts", "Document the failover steps",
    "Add a dashboard for queue depth", "Review the on-call escalation path", "Cap the batch size",
    "Add an integration test for this path", "Rotate and scope the credentials", "Move the check into CI",
]
#: The follow-ups' priorities, in turn: every priority all year round, Medium and High the most.
PRIORITIES = [FollowUpPriority.HIGH, FollowUpPriority.MEDIUM, FollowUpPriority.LOW, FollowUpPriority.MEDIUM,
              FollowUpPriority.URGENT, FollowUpPriority.HIGH, FollowUpPriority.MEDIUM, FollowUpPriority.LOW]
#: By priority: how likely a follow-up is done at all. Low ones mostly linger.
DONE_ODDS = {FollowUpPriority.URGENT: 0.9, FollowUpPriority.HIGH: 0.8, FollowUpPriority.MEDIUM: 0.7,
             FollowUpPriority.LOW: 0.35}
#: Follow-ups with a due date that are done, in turn: on time, or late.
ON_TIME = [True, False, True, True, False]
#: How likely a follow-up not done is marked not doing rather than left open.
NOT_DOING_ODDS = 0.2
#: Whatever the odds, this many follow-ups of each age (the Insights page's buckets: up to 30 days
#: old, 31 to 90, older) are left open, so that each bucket has some.
OPEN_PER_AGE = 2

DECLINED = [
    "A customer's own network problem; support replied.",
    "Expected: the Sunday export runs late by design.",
    "A monitoring false alarm after the probe moved regions.",
]

POSTMORTEM = """## Summary

{summary}

## Impact

Some customers were affected until it was resolved.

## What went well

- The alert fired within minutes.
"""


class _Clock:
    """Which moment of the year each service call stands for.

    ``at(moment)`` is called before a step: whatever the services stamp from
    then until the next call happened at ``moment`` (plus the milliseconds the
    step took, which keep the step's rows in order). ``move`` rewrites the
    stamps of rows made after the first call.
    """

    def __init__(self) -> None:
        self._real: list[datetime] = []
        self._story: list[datetime] = []

    def at(self, moment: datetime) -> None:
        self._real.append(timezone.now())
        self._story.append(moment)

    def moment(self, stamped: datetime | None) -> datetime | None:
        if stamped is None:
            return None
        index = bisect_right(self._real, stamped) - 1
        if index < 0:
            return stamped  # stamped before the year began: not the year's
        return self._story[index] + (stamped - self._real[index])

    def move(self, model, fields: list[str], **where) -> None:
        """Move the stamps in ``fields`` of ``model``'s rows matching ``where``, one statement per 1,000 rows."""
        rows = [(pk, *(self.moment(value) for value in values))
                for pk, *values in model.objects.filter(**where).values_list("pk", *fields)]
        _write(model, fields, rows)


def _write(model, fields: list[str], rows: list[tuple]) -> None:
    """Set ``fields`` of each ``(pk, *values)`` row: one ``UPDATE … FROM (VALUES …)`` per 1,000 rows."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [connection.ops.quote_name(model._meta.get_field(name).column) for name in fields]
    row = "(%s::bigint" + ", %s::timestamptz" * len(columns) + ")"
    assignments = ", ".join(f"{column} = moved.{column}" for column in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start:start + 1000]
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) "
                f"AS moved (id, {', '.join(columns)}) WHERE t.id = moved.id",
                [value for values in chunk for value in values],
            )


@dataclass
class _Step:
    """Something done to an incident at ``at``, by ``do(incident)``. A ``flow`` step is part of the
    learning flow: none is done after the flow stalled or was opted out of. The flow may stall at a
    step that ``can_stall``: one whose task has a due date, which is then left to go overdue."""

    at: datetime
    do: Callable[[Incident], None]
    flow: bool = True
    can_stall: bool = False


@dataclass
class _Plan:
    kind: _Kind
    reported: datetime
    severity: str | None
    lead: object  # a User, or None
    triage: bool = False
    declined: bool = False
    merged_report: bool = False


class _Year:
    """The year: drawn (``_plans``), made through the services (``build``), then put in its place in
    time (``settle``)."""

    def __init__(self, *, org, people: list, now: datetime) -> None:
        self.org, self.people, self.now = org, people, now
        self.rng = random.Random(SEED)
        self.tz = ZoneInfo(org.time_zone)
        self.clock = _Clock()
        self.actors = {person.pk: Actor.for_user(person) for person in people}
        self.severities = {s.name: s for s in Severity.objects.filter(org=org)}
        self.statuses = {s.name: s for s in IncidentStatus.objects.filter(org=org)}
        self.types = {t.name: t for t in IncidentType.objects.filter(org=org)}
        #: Kind name → the numbers of the year's incidents of that kind so far.
        self.earlier: dict[str, list[int]] = {}
        #: The numbers of the Critical incidents that ran the flow so far: the big reviews.
        self.reviews: list[int] = []
        #: (type, severity) → what the org's rules decide when such an incident is closed.
        self.decisions: dict[tuple, FlowDecision] = {}
        #: Age bucket → how many of the year's follow-ups of that age are left open so far.
        self.open_by_age: Counter[str] = Counter()
        # What comes in turn rather than by chance, so that every chart has each of its bars whatever
        # the draws: how flows end, the usual reasons to opt out, follow-ups' priorities and punctuality.
        self.flow_courses = itertools.cycle(FLOW_COURSES)
        self.opt_out_reasons = itertools.cycle([NO_IMPACT, DUPLICATE, NO_IMPACT])
        self.priorities = itertools.cycle(PRIORITIES)
        self.on_time = itertools.cycle(ON_TIME)
        #: The org's calendar and follow-up due rules, to tell when a follow-up is due (and so when
        #: it is done in time, or late) as the product will count it.
        self.calendar, self.due_rules = WorkingCalendar.of(org), follow_up_rules(org.pk)

    # --- Drawing -------------------------------------------------------------------------------

    def _span(self, median_minutes: float, low: float, high: float) -> timedelta:
        """A log-normal span around ``median_minutes``, kept within [low, high] minutes."""
        value = median_minutes * math.exp(self.rng.gauss(0, 0.8))
        return timedelta(minutes=min(max(value, low), high))

    def _local(self, day: date) -> datetime:
        """A moment of ``day`` in Acme's time zone: mostly working hours, sometimes the night."""
        if self.rng.random() < 0.75:
            minute = self.rng.randrange(8 * 60, 19 * 60)
        else:
            minute = self.rng.randrange(24 * 60)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)

    def _reported_days(self) -> list[date]:
        """The days incidents were reported, counted back from the day of seeding a week at a time:
        one to three a week in the last quarter, one a week in the quarter before, one a fortnight
        in the first half of the year. The draws do not depend on the day: seeded any day, the year
        is the same, counted back from that day."""
        today = self.now.astimezone(self.tz).date()
        ages = []
        for week in range(26):
            for _ in range(self.rng.randint(1, 3) if week < 13 else 1):
                ages.append(NEWEST_DAYS + 7 * week + self.rng.randrange(7))
        for fortnight in range(13, 26):
            ages.append(NEWEST_DAYS + 14 * fortnight + self.rng.randrange(14))
        return [today - timedelta(days=age) for age in ages if age <= OLDEST_DAYS]

    def _plans(self) -> list[_Plan]:
        plans = []
        for number, day in enumerate(self._reported_days(), start=1):
            if number % CRITICAL_EVERY == 1:
                kind, severity = self.rng.choice([kind for kind in KINDS if kind.critical]), "Critical"
            else:
                kind = self.rng.choice(KINDS)
                severity = None if self.rng.random() < 0.05 else self.rng.choices(
                    ["Minor", "Major"], weights=kind.severities)[0]
            # Only small incidents are sometimes left without a lead.
            lead = self.rng.choice([*self.people, *self.people, None] if severity in ("Minor", None) else self.people)
            plans.append(_Plan(kind=kind, reported=self._local(day), severity=severity, lead=lead,
                               triage=self.rng.random() < 0.12))
        plans.sort(key=lambda plan: plan.reported)
        # A few reports declined from triage, and a few duplicates merged, spread over the year.
        for index in (len(plans) // 5, len(plans) // 2, len(plans) * 4 // 5):
            plans[index].triage = plans[index].declined = True
        for index in (len(plans) // 3, len(plans) * 2 // 3, len(plans) - 4):
            plans[index].merged_report = True
        return plans

    def _actor(self, person=None) -> Actor:
        return self.actors[(person or self.rng.choice(self.people)).pk]

    # --- Building ------------------------------------------------------------------------------

    def build(self) -> list[int]:
        """Create the year's incidents through the services; returns their ids."""
        made = []
        for plan in self._plans():
            made += self._incident(plan)
        return made

    def _incident(self, plan: _Plan) -> list[int]:
        clock, at = self.clock, plan.reported
        clock.at(at)
        inc = incidents.incident_declare(
            org=self.org, actor=self._actor(), name=plan.kind.name, summary=plan.kind.summary,
            severity=self.severities[plan.severity] if plan.severity else None, lead=plan.lead,
            triage=plan.triage, incident_type=self.types[plan.kind.type],
        )
        made = [inc.pk]
        if plan.declined:
            clock.at(at + self._span(20, 5, 90))
            incidents.incident_decline(incident=inc, actor=self._actor(), reason=self.rng.choice(DECLINED))
            return made
        if plan.triage:
            at += self._span(10, 2, 45)
            clock.at(at)
            incidents.incident_accept(incident=inc, actor=self._actor())
        responder = self._actor(plan.lead)
        if plan.merged_report:
            # Someone else reported the same thing meanwhile; the responder merged it into this one.
            clock.at(at + self._span(6, 2, 15))
            duplicate = incidents.incident_declare(
                org=self.org, actor=self._actor(), name=f"{plan.kind.name} (reported by support)", triage=True,
                incident_type=self.types[plan.kind.type],
            )
            clock.at(at + self._span(20, 16, 40))
            incidents.incident_merge(incident=duplicate, actor=responder, into=inc)
            made.append(duplicate.pk)
        if self.rng.random() < 0.9:  # the others went from Investigating straight to Monitoring
            at += self._span(25, 3, 240)
            clock.at(at)
            incidents.incident_edit(incident=inc, actor=responder, status=self.statuses["Fixing"])
        if self.rng.random() < 0.5:
            at += self._span(15, 2, 90)
            clock.at(at)
            incidents.incident_post_update(incident=inc, actor=responder, message=self._update(plan))
        at += self._span(50, 5, 600)
        clock.at(at)
        incidents.incident_edit(incident=inc, actor=responder, status=self.statuses["Monitoring"])
        at += self._span(60, 10, 20 * 60)
        clock.at(at)
        self._close(inc, plan, responder)
        inc.refresh_from_db()
        self.earlier.setdefault(plan.kind.name, []).append(inc.number)
        if plan.severity == "Critical" and inc.learning_flow == LearningFlowState.RUNNING:
            self.reviews.append(inc.number)
        self._after_close(inc, at, responder)
        return made

    def _update(self, plan: _Plan) -> str:
        if plan.kind.vendor:
            return "The provider confirms an incident on their side; failing over where we can."
        return self.rng.choice([
            "Found it: the last deploy changed the connection settings. Rolling back.",
            "Mitigated by scaling out; still looking for the cause.",
            "The errors follow one customer's traffic; rate-limiting them for now.",
            "Root cause found; a fix is in review.",
        ])

    def _close(self, inc: Incident, plan: _Plan, actor: Actor) -> None:
        """Where the rules decide (Critical incidents run the flow, Maintenance ones never do), as they
        say; otherwise the closer mostly runs it when the incident was serious, and opts out of it
        with a reason when not."""
        key = (plan.kind.type, plan.severity)
        if key not in self.decisions:
            self.decisions[key] = decide(inc)
        if self.decisions[key] != FlowDecision.ASK:
            incident_close(incident=inc, actor=actor)
            return
        run = 0.55 if plan.kind.type == "Security" else {"Major": 0.45}.get(plan.severity, 0.12)
        if self.rng.random() < run:
            incident_close(incident=inc, actor=actor, learning_flow=LearningFlowChoice.RUN)
        else:
            incident_close(incident=inc, actor=actor, learning_flow=LearningFlowChoice.OPT_OUT,
                           opt_out_reason=self._opt_out_reason(plan))

    def _opt_out_reason(self, plan: _Plan) -> str:
        if plan.kind.vendor:
            return VENDOR
        earlier = self.earlier.get(plan.kind.name)
        if earlier and self.rng.random() < 0.15:
            return f"Same root cause as INC-{earlier[-1]}; the learning happens there"
        return next(self.opt_out_reasons)

    def _covered_by(self, inc: Incident) -> str:
        """A recurring not-doing reason: the latest big review before the incident covered it."""
        earlier = [number for number in self.reviews if number < inc.number]
        return f"Covered by the INC-{earlier[-1]} review" if earlier else OPS_REVIEW

    # --- After closing: the learning flow and the follow-ups -----------------------------------

    def _after_close(self, inc: Incident, closed: datetime, responder: Actor) -> None:
        rng = self.rng
        running = inc.learning_flow == LearningFlowState.RUNNING
        count = rng.choice([1, 1, 1, 2, 2, 3]) if running else int(rng.random() < 0.45)
        created = sorted(closed + self._span(12 * 60, 30, 4 * 24 * 60) for _ in range(count))
        steps = [_Step(at, self._follow_up(at), flow=False) for at in created]
        course = next(self.flow_courses) if running else None
        if running:
            steps += self._flow_steps(responder, closed, first_follow_up=created[0],
                                      own_postmortem=course != COVERED_BY_REVIEW)
        steps.sort(key=lambda step: step.at)
        flow_steps = [index for index, step in enumerate(steps) if step.flow]
        stalls = [index for index, step in enumerate(steps) if step.can_stall]
        stall_at = rng.choice(stalls) if course == STALLED else None
        opt_out_at = rng.choice(flow_steps) if course == OPTED_OUT else None
        flow_over = False
        for index, step in enumerate(steps):
            if step.at > self.now - NOT_YET:
                break  # not happened yet
            if step.flow and (flow_over or index == stall_at):
                flow_over = True  # the team never got round to the rest
                continue
            self.clock.at(step.at)
            if index == opt_out_at:
                flow_over = True
                inc.refresh_from_db(fields=["learning_flow"])
                if inc.learning_flow == LearningFlowState.RUNNING:
                    learning_opt_out(incident=inc, actor=responder, reason=next(self.opt_out_reasons))
            else:
                step.do(inc)

    def _task(self, inc: Incident, kind: str) -> LearningTask | None:
        """The outstanding task of ``kind``: of the incident's current status, since a status is left only
        once its tasks are addressed (and a flow has one task of each kind)."""
        return LearningTask.objects.filter(incident=inc, kind=kind, state=TaskState.OUTSTANDING).first()

    def _advance(self, inc: Incident) -> None:
        """The advance a finished status schedules on commit, which comes only after seeding: made now,
        at the step's moment, as the worker would have made it then."""
        # No required task outstanding at all: the statuses before the current one were left only once theirs
        # were addressed, so the current one is finished (``status_finished``), or the flow is over.
        if LearningTask.objects.filter(incident=inc, required=True, state=TaskState.OUTSTANDING).exists():
            return
        inc.refresh_from_db(fields=["status", "learning_flow"])
        if inc.learning_flow == LearningFlowState.RUNNING:
            learning_advance(incident_id=inc.pk, from_status_id=inc.status_id)

    def _address(self, inc: Incident, kind: str, *, not_doing: str | None = None) -> None:
        """Complete the outstanding task of ``kind`` by hand, or mark it not doing with ``not_doing``."""
        task = self._task(inc, kind)
        if task is None:
            return
        task.incident = inc
        actor = self._actor(task.assignee)
        if not_doing is None:
            task_complete(task=task, actor=actor)
        else:
            task_not_doing(task=task, actor=actor, reason=not_doing)
        self._advance(inc)

    def _by_hand(self, kind: str, *, not_doing, chance: float) -> Callable[[Incident], None]:
        """A step addressing the task of ``kind``: not done, with ``not_doing`` (a reason, or ``COVERED``),
        with the odds ``chance``; otherwise completed by hand."""
        skip = self.rng.random() < chance

        def do(inc: Incident) -> None:
            reason = None
            if skip:
                reason = self._covered_by(inc) if not_doing is COVERED else not_doing
            self._address(inc, kind, not_doing=reason)
        return do

    def _flow_steps(self, responder: Actor, closed: datetime, *, first_follow_up: datetime,
                    own_postmortem: bool) -> list[_Step]:
        """The Default flow's Documenting, then its Reviewing: each task done (by hand or by the work
        that completes it) or not done, at its moment; Reviewing starts once Documenting's last task is.
        Without ``own_postmortem``, the post-mortem's tasks are not done: a big review covered them."""
        rng = self.rng
        write_at = closed + self._span(20 * 60, 60, 4 * 24 * 60)
        documenting = [
            _Step(closed + self._span(24 * 60, 120, 5 * 24 * 60),
                  self._by_hand(TaskKind.REVIEW_TIMELINE, not_doing=COVERED, chance=0.3)),
            _Step(closed + self._span(24 * 60, 120, 5 * 24 * 60),
                  self._by_hand(TaskKind.UPDATE_TIMESTAMPS, not_doing=RIGHT_TIMESTAMPS, chance=0.35)),
        ]
        reviewing = max(write_at, first_follow_up, *(step.at for step in documenting)) + self._span(60, 5, 600)
        debrief_at = reviewing + self._span(24 * 60, 60, 5 * 24 * 60)
        meeting = datetime.combine((debrief_at + timedelta(days=rng.randint(1, 4))).astimezone(self.tz).date(),
                                   time(14), tzinfo=self.tz)
        no_debrief = rng.random() < 0.3
        complete_at = max(debrief_at, meeting) + self._span(24 * 60, 120, 8 * 24 * 60)

        def write_postmortem(inc: Incident) -> None:
            if not own_postmortem:
                self._address(inc, TaskKind.CREATE_POSTMORTEM, not_doing=self._covered_by(inc))
                return
            documents.postmortem_create(incident=inc, actor=responder, content=POSTMORTEM.format(summary=inc.summary))
            self._advance(inc)  # "Create the post-mortem" completed itself

        def schedule_debrief(inc: Incident) -> None:
            if no_debrief:
                self._address(inc, TaskKind.SCHEDULE_DEBRIEF, not_doing=OPS_REVIEW)
                return
            # ``meeting`` is already a moment of the year: the clock moves only what the services stamp.
            documents.debrief_schedule(incident=inc, actor=responder, scheduled_at=meeting, duration_minutes=45,
                                       attendees=self.people)
            self._advance(inc)

        def complete_postmortem(inc: Incident) -> None:
            postmortem = Postmortem.objects.filter(incident=inc).first()
            if postmortem is None:
                reason = self._covered_by(inc)
                self._address(inc, TaskKind.COMPLETE_POSTMORTEM, not_doing=reason)
                self._address(inc, TaskKind.SHARE_POSTMORTEM, not_doing=reason)
                return
            documents.postmortem_set_status(postmortem=postmortem, actor=responder, status=PostmortemStatus.COMPLETED)
            self._advance(inc)

        def share_postmortem(inc: Incident) -> None:
            postmortem = Postmortem.objects.filter(incident=inc).first()
            if postmortem is not None:
                documents.postmortem_share(postmortem=postmortem, actor=responder)
                self._advance(inc)

        return [
            _Step(write_at, write_postmortem, can_stall=True),
            *documenting,
            _Step(debrief_at, schedule_debrief, can_stall=True),
            _Step(complete_at, complete_postmortem, can_stall=True),
            _Step(complete_at + self._span(120, 10, 3 * 24 * 60), share_postmortem),
            _Step(complete_at + self._span(240, 10, 3 * 24 * 60),
                  self._by_hand(TaskKind.REVIEW_FOLLOW_UPS, not_doing="", chance=0.1)),
        ]

    def _follow_up(self, created: datetime) -> Callable[[Incident], None]:
        """A follow-up made at ``created``: most are done later (some after their due date), a few
        are not done, the rest are still open."""
        rng = self.rng
        priority = next(self.priorities)
        assignee = rng.choice([*self.people, None])
        title = rng.choice(FOLLOW_UPS)
        fate = rng.random()
        # Made after the incident was resolved: due that many business days after it was made.
        days = self.due_rules.get(priority)
        if days is None:
            done_at = created + timedelta(days=30 * math.exp(rng.gauss(0, 0.7)))
        else:
            due_at = add_business_days(self.calendar, created, days)
            if next(self.on_time):
                done_at = created + (due_at - created) * rng.uniform(0.2, 0.95)
            else:
                done_at = due_at + timedelta(days=rng.uniform(1, 20))

        def do(inc: Incident) -> None:
            actor = self._actor(assignee)
            follow_up = follow_ups.follow_up_create(incident=inc, actor=actor, title=title, assignee=assignee,
                                                    priority=priority)
            self._advance(inc)  # "Create follow-ups" completed itself
            days = (self.now - created).days
            age = "0-30" if days <= 30 else "31-90" if days <= 90 else "91-"
            if done_at > self.now - NOT_YET or self.open_by_age[age] < OPEN_PER_AGE:
                self.open_by_age[age] += 1
                return  # still open
            if fate < DONE_ODDS[priority]:
                self.clock.at(done_at)
                follow_ups.follow_up_complete(follow_up=follow_up, actor=actor)
            elif fate < DONE_ODDS[priority] + (1 - DONE_ODDS[priority]) * NOT_DOING_ODDS:
                self.clock.at(done_at)
                follow_ups.follow_up_not_doing(follow_up=follow_up, actor=actor,
                                               reason="Superseded by the platform migration")
            else:
                self.open_by_age[age] += 1
        return do

    # --- Settling: the year's moments, due dates and messages ----------------------------------

    def settle(self, incident_ids: list[int]) -> None:
        """Move every timestamp the services stamped to its moment of the year; count the due dates again
        from the moved timestamps; record the year's messages as sent when they were made; and tell the
        reminder sweep when to look at the open work next (as it would have worked out on the day after
        seeding), so the year's overdue work does not arrive at once as a burst of reminders."""
        move, ids = self.clock.move, incident_ids
        move(Incident, ["reported_at", "accepted_at", "identified_at", "fixed_at", "resolved_at", "closed_at",
                        "updated_at"], pk__in=ids)
        move(IncidentRoleAssignment, ["assigned_at"], incident_id__in=ids)
        move(TimelineEvent, ["occurred_at"], incident_id__in=ids)
        move(Postmortem, ["created_at", "updated_at", "shared_at"], incident_id__in=ids)
        move(Debrief, ["created_at"], incident_id__in=ids)
        move(FollowUp, ["created_at", "completed_at"], incident_id__in=ids)
        move(LearningTask, ["created_at", "addressed_at"], incident_id__in=ids)
        move(LearningStatusVisit, ["entered_at", "left_at"], incident_id__in=ids)
        move(LearningRun, ["entered_at"], incident_id__in=ids)
        move(OutboxMessage, ["created_at"], incident_id__in=ids)
        OutboxMessage.objects.filter(incident_id__in=ids).update(state=OutboxState.SENT, sent_at=F("created_at"))

        calendar, rules = WorkingCalendar.of(self.org), follow_up_rules(self.org.pk)
        policy = reminder_policy_get(org=self.org)
        quiet_until = self.now + QUIET_AFTER_SEEDING
        tasks = LearningTask.objects.filter(incident_id__in=ids).select_related("incident", "template")
        follow_up_list = FollowUp.objects.filter(incident_id__in=ids).select_related("incident")
        for model, items in (
            (LearningTask, [(task, task_due_at(calendar, task, task.incident), task.state == TaskState.OUTSTANDING)
                            for task in tasks]),
            (FollowUp, [(item, follow_up_due_at(calendar, item, item.incident, rules),
                         item.status == FollowUpStatus.OUTSTANDING) for item in follow_up_list]),
        ):
            _write(model, ["due_at", "next_reminder_at"], [
                (item.pk, due_at, next_look(due_at=due_at, snoozed_until=None, policy=policy, now=quiet_until)
                 if outstanding and due_at else None)
                for item, due_at, outstanding in items
            ])


def seed_demo_history(*, org, people: list) -> int:
    """Give ``org`` (Acme) its year of incidents before the story; returns how many were created.

    Call once, right after the story (``seed_demo_incidents``) was created. The org gets a
    *Maintenance* incident type whose incidents never run the learning flow.
    """
    maintenance = configuration.incident_type_create(
        org=org, name="Maintenance", description="Planned work that overran or needed telling customers about.",
    )
    rules_update(org=org, incident_type=maintenance, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.NEVER)
    year = _Year(org=org, people=people, now=timezone.now())
    made = year.build()
    year.settle(made)
    return len(made)
