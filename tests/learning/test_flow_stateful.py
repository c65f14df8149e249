"""The learning flow driven by random sequences of everything people and systems do to it.

A Hypothesis ``RuleBasedStateMachine`` declares and closes incidents (running
the flow, opting out, or as the lifecycle rules decide), completes, skips,
reopens and assigns their tasks, assigns incident roles, writes, completes and
shares post-mortems, schedules debriefs, creates follow-ups, edits the task
templates and lifecycle rules, changes members' org roles, opts out from inside
the flow, and delivers the same event and the same advance job twice — through
the real services, and for some rules through the real entry points (the
dashboard with a signed-in member, the API with a bearer key). After every
step it checks the invariants of docs/learning-flow.md:

- each incident is in one status, and its learning-flow state agrees with it;
  open tasks exist only in the current status of a running incident;
- an incident leaves each learning status at most once, enters the flow at
  most once and completes or opts out at most once (counted on the timeline);
- a completed or opted-out incident has no outstanding task;
- a running incident whose current status has no required outstanding task
  is a bug: it should have advanced (Celery is eager, so the advance ran on
  commit); ``repair_stuck_incidents`` finds nothing to repair;
- the timeline agrees with the state: the flow events chain status to status
  and the last one names the current status; each task's state is the one
  its last task event says; nothing is completed twice without a reopen;
- tasks are a snapshot of the templates when the status was entered, and
  later template edits do not change them; automatic kinds whose work is done
  are not left outstanding unless a person reopened them.

Each example builds its own organization (factories) with its own members and
one to three learning statuses, and deletes its incidents when it ends, so
examples do not interact; the test is ``transaction=True`` so services commit
and their on-commit work (the advance, the outbox) runs as in production.
The learning statuses themselves are not reordered or deleted here. Reordering
them mid-flow once sent an incident back into a status it had finished; that
is fixed (the advance skips statuses the incident has been in) and pinned by
tests/learning/test_flow_services.py; a rule for it would need the order
checks below to follow the order at the time of each advance.

Size: ``RELIABILITY_EXAMPLES`` examples (default 25, about 30 s on Postgres)
of up to ``RELIABILITY_STEPS`` steps (default 30). ``make reliability`` runs
several hundred. Runs are random; on failure Hypothesis prints the minimal
sequence of steps, and the note names the seed: rerun with
``RELIABILITY_SEED=<seed>`` to get the same examples.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter, defaultdict
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    Debrief,
    EventKind,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    LearningFlowState,
    Postmortem,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.services.configuration import status_delete
from incidentio.incidents.services.documents import (
    debrief_schedule,
    postmortem_create,
    postmortem_set_status,
    postmortem_share,
)
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_assign_role, incident_declare
from learning.models import LearningTask, TaskKind, TaskState, TaskTemplate, UnmatchedPolicy
from learning.selectors import default_flow
from learning.services import configuration
from learning.services.flow import flow_steps, incident_close, learning_opt_out
from learning.services.rules import FlowDecision, decide
from learning.services.tasks import task_assign, task_complete, task_not_doing, task_reopen
from learning.tasks import advance_incident, repair_stuck_incidents
from orgs.models import ApiKeyRole, Membership, Role
from orgs.services import api_key_create, membership_change_role
from slackbot.models import OutboxMessage
from tests.conftest import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("RELIABILITY_EXAMPLES") or 25)
STEPS = int(os.environ.get("RELIABILITY_STEPS") or 30)
SEED = int(os.environ.get("RELIABILITY_SEED") or secrets.randbits(64))

MAX_INCIDENTS = 4
MAX_TEMPLATES = 5  # per learning status
PEOPLE = ("owner", "admin", "responder", "viewer")
#: Tasks closed off by the system, without a task event of their own.
SYSTEM_REASONS = ("Optional; left open when the incident moved on.", "The learning flow was opted out of.")
STATE_EVENTS = {
    EventKind.TASK_COMPLETED: TaskState.COMPLETED,
    EventKind.TASK_NOT_DOING: TaskState.NOT_DOING,
    EventKind.TASK_REOPENED: TaskState.OUTSTANDING,
}
FLOW_EVENTS = (
    EventKind.LEARNING_FLOW_ENTERED,
    EventKind.LEARNING_STATUS_CHANGED,
    EventKind.LEARNING_FLOW_COMPLETED,
    EventKind.LEARNING_FLOW_OPTED_OUT,
)

picks = st.integers(min_value=0, max_value=63)
people = st.sampled_from(PEOPLE)
entry_points = st.sampled_from(["service", "dashboard", "api"])
reasons = st.sampled_from(["", "   ", "Covered by INC-1's post-mortem.", "Not worth it"])


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance and the outbox delivery run in-process, on commit."""


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # Every example signs its members in and calls the API from one address,
    # hundreds of times a minute: the limits would refuse the test, not a user.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/min"}}
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture(autouse=True)
def _commits_without_waiting_for_the_disk():
    """Every step commits several times; on Postgres each commit waits for fsync.
    Not waiting changes nothing this test can see (only what a server crash would lose)."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")


class Outcome:
    OK = "ok"
    REFUSED = "refused"  # a ServiceError: the dashboard's 303 back to the page, the API's 422
    FORBIDDEN = "forbidden"  # the member's or key's role does not allow it: 403


class LearningFlowMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.org = OrganizationFactory()
        self.users = {}
        self.memberships = {}
        for person in PEOPLE:
            membership = MembershipFactory(org=self.org, role=person, user=UserFactory())
            self.users[person], self.memberships[person] = membership.user, membership
        self.keys = {
            name: api_key_create(org=self.org, name=name, roles=roles, created_by=None)[1]
            for name, roles in {
                "all": list(ApiKeyRole.values),
                "editor": [ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR],
                "viewer": [ApiKeyRole.VIEWER],
            }.items()
        }
        self.clients: dict[str, Client] = {}
        self.api = Client()
        self.roles = {r.kind: r for r in IncidentRole.objects.filter(org=self.org)}
        self.severities = list(Severity.objects.filter(org=self.org).order_by("rank"))
        self.incident_ids: list[int] = []
        #: (incident, status) → the tasks' (rank, title, kind, required) when first seen.
        self.snapshots: dict[tuple[int, int], list[tuple]] = {}

    # --- Helpers ---------------------------------------------------------------------------------

    def actor(self, person: str) -> Actor:
        return Actor.for_user(self.users[person])

    def client_for(self, person: str) -> Client:
        if person not in self.clients:
            self.clients[person] = Client()
            sign_in(self.clients[person], self.users[person], self.org.slug)
        return self.clients[person]

    def role_of(self, person: str) -> str:
        return Membership.objects.get(pk=self.memberships[person].pk).role

    def incident(self, pick: int) -> Incident:
        pk = self.incident_ids[pick % len(self.incident_ids)]
        return Incident.objects.select_related("status", "org").get(pk=pk)

    def task(self, incident: Incident, pick: int, current: bool, outstanding: bool = False) -> LearningTask | None:
        tasks = LearningTask.objects.filter(incident=incident).select_related("incident", "status")
        if current:
            tasks = tasks.filter(status_id=incident.status_id)
        if outstanding:
            tasks = tasks.filter(state=TaskState.OUTSTANDING)
        tasks = list(tasks.order_by("status__rank", "rank", "pk"))
        return tasks[pick % len(tasks)] if tasks else None

    def running(self):
        return Incident.objects.filter(pk__in=self.incident_ids, learning_flow=LearningFlowState.RUNNING)

    def events_of(self, incident: Incident) -> int:
        return TimelineEvent.objects.filter(incident=incident).count()

    def dashboard(self, person: str, path: str, data: dict | None = None) -> str:
        response = self.client_for(person).post(f"/{self.org.slug}/{path}", data or {})
        # A refusal redirects back to the page too, with "See other" (303): post/redirect/get.
        outcome = {302: Outcome.OK, 303: Outcome.REFUSED, 403: Outcome.FORBIDDEN}.get(response.status_code)
        assert outcome is not None, f"POST /{self.org.slug}/{path} {data} → {response.status_code}"
        return outcome

    def call_api(self, key: str, path: str, body: dict | None = None) -> tuple[str, dict]:
        response = self.api.post(f"/api/v2/{path}", json.dumps(body or {}), content_type="application/json",
                                 headers={"Authorization": f"Bearer {self.keys[key]}"})
        outcome = {200: Outcome.OK, 201: Outcome.OK, 422: Outcome.REFUSED, 403: Outcome.FORBIDDEN}.get(
            response.status_code
        )
        assert outcome is not None, f"POST /api/v2/{path} {body} → {response.status_code} {response.content[:500]}"
        return outcome, response.json()

    def service(self, call) -> str:
        try:
            call()
        except ServiceError:
            return Outcome.REFUSED
        return Outcome.OK

    # --- Setting up --------------------------------------------------------------------------------

    @initialize(
        extra_status=st.booleans(), drop_reviewing=st.booleans(),
        keep=st.lists(st.integers(min_value=0, max_value=4), min_size=2, max_size=2),
        otherwise=st.sampled_from([UnmatchedPolicy.ASK] * 3 + [UnmatchedPolicy.NEVER]),
        threshold=st.integers(min_value=-1, max_value=2),
    )
    def configure(self, extra_status, drop_reviewing, keep, otherwise, threshold):
        """One to three learning statuses, with none to four of the default tasks each (the
        extra status starts with none: it is passed through); the lifecycle rules."""
        for name, count in zip(("Documenting", "Reviewing"), keep, strict=True):
            for template in TaskTemplate.objects.filter(org=self.org, status__name=name).order_by("rank")[count:]:
                configuration.template_delete(template=template)
        if drop_reviewing:
            status_delete(status=IncidentStatus.objects.get(org=self.org, name="Reviewing"))
        if extra_status:
            configuration.flow_status_create(flow=default_flow(org=self.org), name="Following up")
        configuration.rules_update(
            org=self.org, auto_enter_min_severity=self.severities[threshold] if threshold >= 0 else None,
            otherwise=otherwise,
        )

    # --- Incidents -------------------------------------------------------------------------------

    def declare_one(self, severity, lead, via_api) -> Incident:
        severity = self.severities[severity] if severity >= 0 else None
        if not via_api:
            incident = incident_declare(org=self.org, actor=self.actor("owner"), name="Checkout is down",
                                        severity=severity, lead=self.users[lead] if lead else None)
        else:
            # The same create sent twice (a client retry): one incident.
            body = {"name": "Checkout is down", "idempotency_key": secrets.token_hex(8),
                    "severity_id": str(severity.public_id) if severity else None,
                    "incident_lead_id": self.users[lead].email if lead else None}
            first, created = self.call_api("editor", "incidents", body)
            again, repeated = self.call_api("editor", "incidents", body)
            assert first == again == Outcome.OK
            assert created["incident"]["id"] == repeated["incident"]["id"]
            incident = Incident.objects.get(public_id=created["incident"]["id"])
        self.incident_ids.append(incident.pk)
        return incident

    @precondition(lambda self: len(self.incident_ids) < MAX_INCIDENTS)
    @rule(severity=st.integers(min_value=-1, max_value=2), lead=st.sampled_from((None, *PEOPLE)),
          via_api=st.booleans())
    def declare(self, severity, lead, via_api):
        """A live incident, for the other rules to work on and close later."""
        self.declare_one(severity, lead, via_api)

    @precondition(lambda self: len(self.incident_ids) < MAX_INCIDENTS)
    @rule(severity=st.integers(min_value=-1, max_value=2), lead=st.sampled_from((None, *PEOPLE)),
          via_api=st.booleans(), opt_out=st.sampled_from([False, False, True]),
          via=st.sampled_from(["service", "dashboard", "api"]))
    def declare_and_close_into_the_flow(self, severity, lead, via_api, opt_out, via):
        """Declared and closed at once: into the flow, or out of it with a reason."""
        incident = self.declare_one(severity, lead, via_api)
        choice = "opt_out" if opt_out else "run"
        self.close_checked(incident, choice, "Fixed upstream, nothing to learn." if opt_out else "", via,
                           "responder", "all")

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, choice=st.sampled_from([None, "run", "opt_out"]), reason=reasons, via=entry_points,
          who=people, key=st.sampled_from(["all", "editor", "viewer"]))
    def close(self, pick, choice, reason, via, who, key):
        self.close_checked(self.incident(pick), choice, reason, via, who, key)

    def close_checked(self, incident, choice, reason, via, who, key):
        was_live, decision = incident.is_live, decide(incident)
        before = self.events_of(incident)
        if via == "service":
            outcome = self.service(lambda: incident_close(
                incident=incident, actor=self.actor(who), learning_flow=choice, opt_out_reason=reason))
        elif via == "dashboard":
            outcome = self.dashboard(who, f"incidents/{incident.public_id}/close/",
                                     {"learning_flow": choice or "", "opt_out_reason": reason})
        else:
            outcome, _ = self.call_api(key, f"incidents/{incident.public_id}/actions/close",
                                       {"learning_flow": choice, "opt_out_reason": reason})

        forbidden = (via == "dashboard" and self.role_of(who) == Role.VIEWER) or (
            via == "api" and (key == "viewer" or (key == "editor" and choice == "opt_out"))
        )
        refused = not was_live or (choice == "opt_out" and not reason.strip()) or (
            decision == FlowDecision.ASK and choice is None
        )
        expected = Outcome.FORBIDDEN if forbidden else Outcome.REFUSED if refused else Outcome.OK
        assert outcome == expected, (outcome, expected, decision)
        after = Incident.objects.select_related("status").get(pk=incident.pk)
        if outcome != Outcome.OK:
            assert self.events_of(incident) == before, "a refused close wrote to the timeline"
            assert after.status_id == incident.status_id
            return
        if decision == FlowDecision.NEVER:
            assert after.learning_flow == LearningFlowState.NOT_ENTERED
        elif choice == "opt_out":
            assert after.learning_flow == LearningFlowState.OPTED_OUT
            assert after.opt_out_reason == reason.strip()
        else:
            assert after.learning_flow in (LearningFlowState.RUNNING, LearningFlowState.COMPLETED)

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, reason=reasons, via=st.sampled_from(["service", "dashboard"]), who=people)
    def opt_out_inside_the_flow(self, pick, reason, via, who):
        incident = self.incident(pick)
        running = incident.learning_flow == LearningFlowState.RUNNING
        if via == "service":
            outcome = self.service(lambda: learning_opt_out(incident=incident, actor=self.actor(who), reason=reason))
        else:
            outcome = self.dashboard(who, f"incidents/{incident.public_id}/learning/opt-out/",
                                     {"opt_out_reason": reason})
        if via == "dashboard" and self.role_of(who) == Role.VIEWER:
            assert outcome == Outcome.FORBIDDEN
        elif running and reason.strip():
            assert outcome == Outcome.OK
            assert Incident.objects.get(pk=incident.pk).learning_flow == LearningFlowState.OPTED_OUT
        else:
            assert outcome == Outcome.REFUSED

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, role=st.sampled_from([RoleKind.LEAD, RoleKind.REPORTER]),
          who=st.sampled_from((None, *PEOPLE)), twice=st.booleans())
    def assign_role(self, pick, role, who, twice):
        incident = self.incident(pick)
        for _ in range(2 if twice else 1):  # the same assignment twice: the second changes nothing
            before = self.events_of(incident)
            incident_assign_role(incident=incident, actor=self.actor("owner"), role=self.roles[role],
                                 user=self.users[who] if who else None)
        if twice:
            assert self.events_of(incident) == before, "assigning the same holder again wrote events"

    # --- Tasks -------------------------------------------------------------------------------------

    def act_on_task(self, incident, task, action, reason, via, who, key):
        """Complete, skip or reopen ``task`` and check the answer: done, refused, or forbidden."""
        target = {"complete": TaskState.COMPLETED, "not_doing": TaskState.NOT_DOING,
                  "reopen": TaskState.OUTSTANDING}[action]
        if via == "service":
            call = {
                "complete": lambda: task_complete(task=task, actor=self.actor(who)),
                "not_doing": lambda: task_not_doing(task=task, actor=self.actor(who), reason=reason),
                "reopen": lambda: task_reopen(task=task, actor=self.actor(who)),
            }[action]
            outcome = self.service(call)
        elif via == "dashboard":
            path = f"incidents/{incident.public_id}/tasks/{task.public_id}/{action.replace('_', '-')}/"
            outcome = self.dashboard(who, path, {"reason": reason} if action == "not_doing" else {})
        else:
            outcome, _ = self.call_api(key, f"learning_tasks/{task.public_id}/actions/{action}",
                                       {"reason": reason} if action == "not_doing" else None)

        forbidden = (via == "dashboard" and self.role_of(who) == Role.VIEWER) or (via == "api" and key == "viewer")
        changeable = incident.learning_flow == LearningFlowState.RUNNING and task.status_id == incident.status_id
        if forbidden:
            expected = Outcome.FORBIDDEN
        elif task.state == target or changeable:
            expected = Outcome.OK  # the same action twice is one change and no error
        else:
            expected = Outcome.REFUSED
        assert outcome == expected, (outcome, expected, task.state, action)
        was = task.state
        task.refresh_from_db()
        assert task.state == (target if expected == Outcome.OK else was)

    def running_incident(self, pick: int) -> Incident | None:
        running = list(self.running().order_by("pk").select_related("status", "org"))
        return running[pick % len(running)] if running else None

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, task_pick=picks, count=st.integers(min_value=1, max_value=3), via=entry_points, who=people)
    def complete_tasks(self, pick, task_pick, count, via, who):
        """The common case, to move incidents along: outstanding tasks of a running incident are completed."""
        self.address_tasks(pick, task_pick, count, "complete", "", via, who)

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, task_pick=picks, reason=reasons, via=entry_points, who=people)
    def skip_a_task(self, pick, task_pick, reason, via, who):
        self.address_tasks(pick, task_pick, 1, "not_doing", reason, via, who)

    def address_tasks(self, pick, task_pick, count, action, reason, via, who):
        incident = self.running_incident(pick)
        for _ in range(count if incident else 0):
            incident = Incident.objects.select_related("status", "org").get(pk=incident.pk)
            task = self.task(incident, task_pick, current=True, outstanding=True)
            if task is None or incident.learning_flow != LearningFlowState.RUNNING:
                return
            self.act_on_task(incident, task, action, reason, via, who, "editor")

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, task_pick=picks, via=entry_points, who=people)
    def reopen_a_task(self, pick, task_pick, via, who):
        incident = self.running_incident(pick)
        task = incident and self.task(incident, task_pick, current=True)
        if task is not None:
            self.act_on_task(incident, task, "reopen", "", via, who, "editor")

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, task_pick=picks, action=st.sampled_from(["complete", "not_doing", "reopen"]),
          reason=reasons, via=entry_points, who=people, key=st.sampled_from(["editor", "viewer"]))
    def act_on_any_task(self, pick, task_pick, action, reason, via, who, key):
        """Any task of any incident, past statuses and finished incidents included (refused)."""
        incident = self.incident(pick)
        task = self.task(incident, task_pick, current=False)
        if task is not None:
            self.act_on_task(incident, task, action, reason, via, who, key)

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, task_pick=picks, to=st.sampled_from((None, *PEOPLE)), via=entry_points, who=people)
    def assign_task(self, pick, task_pick, to, via, who):
        incident = self.incident(pick)
        task = self.task(incident, task_pick, current=True)
        if task is None:
            return
        user = self.users[to] if to else None
        if via == "service":
            outcome = self.service(lambda: task_assign(task=task, actor=self.actor(who), user=user))
        elif via == "dashboard":
            outcome = self.dashboard(who, f"incidents/{incident.public_id}/tasks/{task.public_id}/assign/",
                                     {"assignee": str(user.pk) if user else ""})
        else:
            outcome, _ = self.call_api("editor", f"learning_tasks/{task.public_id}/actions/assign",
                                       {"assignee_id": user.email if user else None})
        if via == "dashboard" and self.role_of(who) == Role.VIEWER:
            assert outcome == Outcome.FORBIDDEN
        elif task.state == TaskState.OUTSTANDING:
            assert outcome == Outcome.OK
            task.refresh_from_db()
            assert task.assignee_id == (user.pk if user else None) and task.assigned_manually
        else:
            assert outcome == Outcome.REFUSED

    # --- Work that completes tasks by itself, some of it delivered twice ---------------------------

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, twice=st.booleans())
    def write_postmortem(self, pick, twice):
        incident = self.incident(pick)
        existed = Postmortem.objects.filter(incident=incident).exists()
        outcomes = [self.service(lambda: postmortem_create(incident=incident, actor=self.actor("responder")))
                    for _ in range(2 if twice else 1)]
        assert outcomes[0] == (Outcome.REFUSED if existed else Outcome.OK)
        assert outcomes[1:] in ([], [Outcome.REFUSED])  # a post-mortem is written once

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, action=st.sampled_from([*PostmortemStatus.values, "share"]), twice=st.booleans())
    def work_on_the_postmortem(self, pick, action, twice):
        """Set its status or share it; the same change twice is one change."""
        incident = self.incident(pick)
        postmortem = Postmortem.objects.filter(incident=incident).first()
        if postmortem is None:
            return
        for _ in range(2 if twice else 1):
            before = self.events_of(incident)
            if action == "share":
                postmortem_share(postmortem=postmortem, actor=self.actor("responder"))
            else:
                postmortem_set_status(postmortem=postmortem, actor=self.actor("responder"), status=action)
        if twice:
            assert self.events_of(incident) == before, "the same post-mortem change, again, wrote events"

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, twice=st.booleans())
    def schedule_debrief(self, pick, twice):
        incident = self.incident(pick)
        for _ in range(2 if twice else 1):
            debrief_schedule(incident=incident, actor=self.actor("responder"),
                             scheduled_at=timezone.now() + timedelta(days=2), attendees=[self.users["admin"]])
        assert Debrief.objects.filter(incident=incident).exists()

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks, twice=st.booleans())
    def create_follow_up(self, pick, twice):
        incident = self.incident(pick)
        for n in range(2 if twice else 1):
            follow_up_create(incident=incident, actor=self.actor("responder"), title=f"Add an alert {n}")
        assert FollowUp.objects.filter(incident=incident).exists()

    # --- The advance job: delivered twice, delivered stale, lost and repaired ----------------------

    @precondition(lambda self: self.incident_ids)
    @rule(pick=picks)
    def advance_job_delivered_again(self, pick):
        """Every advance job this incident could ever have had, run twice now: all are no-ops."""
        incident = self.incident(pick)
        before = self.events_of(incident)
        for status in IncidentStatus.objects.filter(org=self.org):
            assert advance_incident(incident.pk, status.pk) is False
            assert advance_incident(incident.pk, status.pk) is False
        assert self.events_of(incident) == before

    @precondition(lambda self: self.running().exists())
    @rule(pick=picks, repair=st.booleans())
    def advance_job_lost_then_delivered_twice(self, pick, repair):
        """Redis was down when the last task was addressed: the job is lost, then runs twice."""
        running = list(self.running().order_by("pk").select_related("status"))
        incident = running[pick % len(running)]
        outstanding = LearningTask.objects.filter(incident=incident, status_id=incident.status_id, required=True,
                                                  state=TaskState.OUTSTANDING)
        with mock.patch.object(advance_incident, "delay") as lost:
            for task in outstanding:
                task_complete(task=task, actor=self.actor("responder"))
        assert lost.call_args_list == [mock.call(incident.pk, incident.status_id)]
        stuck = Incident.objects.get(pk=incident.pk)
        assert stuck.status_id == incident.status_id, "advanced although its job was lost"
        if repair:
            assert repair_stuck_incidents() == 1
            assert repair_stuck_incidents() == 0
        else:
            assert advance_incident(incident.pk, incident.status_id) is True
            assert advance_incident(incident.pk, incident.status_id) is False

    # --- Configuration and people ----------------------------------------------------------------

    @rule(status_pick=picks, template_pick=picks,
          action=st.sampled_from(["add", "add", "remove", "up", "down", "toggle_required"]),
          kind=st.sampled_from(TaskKind.values), required=st.booleans(),
          assignee=st.sampled_from([None, RoleKind.LEAD, RoleKind.REPORTER]),
          role_to_assign=st.sampled_from([RoleKind.LEAD, RoleKind.REPORTER]))
    def edit_templates(self, status_pick, template_pick, action, kind, required, assignee, role_to_assign):
        statuses = flow_steps(default_flow(org=self.org).pk)
        status = statuses[status_pick % len(statuses)]
        templates = list(TaskTemplate.objects.filter(status=status).order_by("rank", "pk"))
        if action == "add":
            if len(templates) < MAX_TEMPLATES:
                configuration.template_create(
                    org=self.org, status=status, title=f"{kind} {len(templates)}", kind=kind, required=required,
                    assignee_role=self.roles[assignee] if assignee else None,
                    target_role=self.roles[role_to_assign] if kind == TaskKind.ASSIGN_ROLE else None,
                )
            return
        if not templates:
            return
        template = templates[template_pick % len(templates)]
        if action == "remove":
            configuration.template_delete(template=template)
        elif action in ("up", "down"):
            configuration.template_move(template=template, direction=action)
        else:
            configuration.template_update(
                template=template, title=template.title, kind=template.kind, instructions=template.instructions,
                required=not template.required, assignee_role=template.assignee_role,
                target_role=template.target_role,
            )

    @rule(threshold=st.integers(min_value=-1, max_value=2),
          otherwise=st.sampled_from([UnmatchedPolicy.ASK] * 3 + [UnmatchedPolicy.NEVER]))
    def edit_lifecycle_rules(self, threshold, otherwise):
        configuration.rules_update(
            org=self.org, auto_enter_min_severity=self.severities[threshold] if threshold >= 0 else None,
            otherwise=otherwise,
        )

    @rule(person=st.sampled_from(["admin", "responder", "viewer"]), role=st.sampled_from(Role.values))
    def change_member_role(self, person, role):
        membership_change_role(actor=self.memberships["owner"], membership=self.memberships[person], role=role)
        assert self.role_of(person) == role

    def teardown(self):
        # Leave no running incident behind: the beat task's repair query, which
        # the invariant runs, looks at every org, including later examples'.
        Incident.objects.filter(org=self.org).delete()

    # --- Invariants ------------------------------------------------------------------------------

    @invariant()
    def the_flow_is_consistent(self):
        if not self.incident_ids:
            return
        statuses = {s.pk: s for s in IncidentStatus.objects.filter(org=self.org)}
        by_name = {s.name: s for s in statuses.values()}
        by_public = {str(s.public_id): s for s in statuses.values()}
        order = [s.pk for s in flow_steps(default_flow(org=self.org).pk)]
        incidents = {i.pk: i for i in Incident.objects.filter(pk__in=self.incident_ids)}
        tasks = defaultdict(list)
        for task in LearningTask.objects.filter(incident_id__in=self.incident_ids).order_by("rank", "pk"):
            tasks[task.incident_id].append(task)
        events = defaultdict(list)
        for event in TimelineEvent.objects.filter(incident_id__in=self.incident_ids).order_by("occurred_at", "pk"):
            events[event.incident_id].append(event)
        posted = Counter(
            OutboxMessage.objects.filter(incident_id__in=self.incident_ids, kind="learning.tasks_posted")
            .values_list("dedupe_key", flat=True)
        )
        for pk, incident in incidents.items():
            label = f"{incident.reference} ({incident.learning_flow}, in {statuses[incident.status_id].name})"
            self.check_state(incident, statuses, tasks[pk], label)
            visited = self.check_timeline(incident, statuses, by_name, by_public, order, events[pk], label)
            self.check_tasks(incident, visited, tasks[pk], events[pk], posted, label)
        # The beat task's own query agrees: nothing is stuck.
        assert repair_stuck_incidents() == 0, "repair_stuck_incidents found an incident that did not advance"

    def check_state(self, incident, statuses, tasks, label):
        category = statuses[incident.status_id].category
        flow = incident.learning_flow
        assert (category == StatusCategory.LEARNING) == (flow == LearningFlowState.RUNNING), label
        if flow in (LearningFlowState.COMPLETED, LearningFlowState.OPTED_OUT):
            assert category == StatusCategory.CLOSED, label
        if flow == LearningFlowState.NOT_ENTERED:
            assert category in (StatusCategory.LIVE, StatusCategory.CLOSED), label
            assert not tasks, f"{label}: tasks without the flow"
        for task in tasks:
            if task.state == TaskState.OUTSTANDING:
                assert flow == LearningFlowState.RUNNING, f"{label}: “{task.title}” outstanding after the flow"
                assert task.status_id == incident.status_id, f"{label}: “{task.title}” outstanding in a past status"
        if flow == LearningFlowState.RUNNING:
            assert any(
                t.status_id == incident.status_id and t.required and t.state == TaskState.OUTSTANDING for t in tasks
            ), f"{label}: every required task of its status is addressed, but it did not advance"

    def check_timeline(self, incident, statuses, by_name, by_public, order, events, label) -> list[int]:
        """The learning statuses the incident went through, read from its timeline."""
        flow_events = [e for e in events if e.kind in FLOW_EVENTS]
        kinds = Counter(e.kind for e in flow_events)
        assert kinds[EventKind.LEARNING_FLOW_ENTERED] <= 1, f"{label}: entered the flow twice"
        assert kinds[EventKind.LEARNING_FLOW_COMPLETED] <= 1, f"{label}: completed twice"
        assert kinds[EventKind.LEARNING_FLOW_OPTED_OUT] <= 1, f"{label}: opted out twice"
        assert Counter(e.kind for e in events)[EventKind.CLOSED] <= 1, f"{label}: “Incident closed” twice"
        left = Counter(e.data["from"] for e in flow_events if e.kind == EventKind.LEARNING_STATUS_CHANGED)
        twice = [name for name, count in left.items() if count > 1]
        assert not twice, f"{label}: advanced out of {twice} more than once"

        visited: list[int] = []
        current = None  # the learning status the timeline says it is in
        for event in flow_events:
            if event.kind == EventKind.LEARNING_FLOW_ENTERED:
                assert not visited, label
                current = by_public[event.data["status_id"]].pk
                assert current == order[0], f"{label}: entered the flow in another status than the first"
            elif event.kind == EventKind.LEARNING_STATUS_CHANGED:
                assert current is not None and by_name[event.data["from"]].pk == current, (
                    f"{label}: left {event.data['from']} but the timeline had it in "
                    f"{statuses[current].name if current else 'no learning status'}"
                )
                following = by_public[event.data["to_id"]].pk
                assert order.index(following) == order.index(current) + 1, f"{label}: skipped a learning status"
                current = following
            elif event.kind == EventKind.LEARNING_FLOW_COMPLETED:
                assert current == order[-1] and by_name[event.data["from"]].pk == current, (
                    f"{label}: completed from {event.data['from']}, not from the last learning status"
                )
                current = None
            else:  # opted out, at closing (from a live status) or from inside the flow
                assert current is None or by_name[event.data["from"]].pk == current, label
                current = None
            if current is not None:
                visited.append(current)
            assert event is flow_events[-1] or current is not None, f"{label}: flow events after it ended"

        flow = incident.learning_flow
        if flow == LearningFlowState.RUNNING:
            assert current == incident.status_id, (
                f"{label}: the timeline's last learning status is "
                f"{statuses[current].name if current else None}, not {statuses[incident.status_id].name}"
            )
        else:
            assert current is None, label
            last = flow_events[-1].kind if flow_events else None
            assert last == {
                LearningFlowState.COMPLETED: EventKind.LEARNING_FLOW_COMPLETED,
                LearningFlowState.OPTED_OUT: EventKind.LEARNING_FLOW_OPTED_OUT,
                LearningFlowState.NOT_ENTERED: None,
            }[flow], f"{label}: last flow event {last}"
        return visited

    def check_tasks(self, incident, visited, tasks, events, posted, label):
        assert {t.status_id for t in tasks} <= set(visited), f"{label}: tasks of a status it never entered"
        for status_id in visited:
            assert posted[f"learning.tasks_posted:{incident.pk}:{status_id}"] == 1, (
                f"{label}: the tasks of a status it entered were not posted to Slack exactly once"
            )
            of_status = [t for t in tasks if t.status_id == status_id]
            shape = [(t.rank, t.title, t.kind, t.required) for t in of_status]
            key = (incident.pk, status_id)
            if key not in self.snapshots:
                # First seen in the step that entered it: the templates did not change since.
                templates = TaskTemplate.objects.filter(status_id=status_id).order_by("rank", "pk")
                assert shape == [(n, t.title, t.kind, t.required) for n, t in enumerate(templates)], (
                    f"{label}: the tasks are not a snapshot of the templates"
                )
                self.snapshots[key] = shape
            assert shape == self.snapshots[key], f"{label}: in-flight tasks changed after it entered the status"

        state_events = defaultdict(list)
        for event in events:
            if event.kind in STATE_EVENTS:
                state_events[event.data["task_id"]].append(event)
        done = _work_done(incident)
        for task in tasks:
            history = state_events[str(task.public_id)]
            what = f"{label}: “{task.title}” ({task.state})"
            for a, b in zip(history, history[1:], strict=False):
                assert a.kind != b.kind, f"{what}: {a.kind} twice in a row (an event applied twice)"
            last = STATE_EVENTS[history[-1].kind] if history else None
            if task.state == TaskState.COMPLETED:
                assert last == TaskState.COMPLETED or (last is None and task.completed_automatically), what
            elif task.state == TaskState.NOT_DOING:
                assert last == TaskState.NOT_DOING or (
                    last in (None, TaskState.OUTSTANDING) and task.not_doing_reason in SYSTEM_REASONS
                ), what
            else:
                assert last in (None, TaskState.OUTSTANDING), what
                if done(task):
                    assert last == TaskState.OUTSTANDING, f"{what}: its work is done but it was not completed"


def _work_done(incident):
    """``done(task)``: whether the work an automatic task asks for has happened."""
    postmortem = Postmortem.objects.filter(incident=incident).first()
    held = set(IncidentRoleAssignment.objects.filter(incident=incident).values_list("role_id", flat=True))
    facts = {
        TaskKind.CREATE_POSTMORTEM: postmortem is not None,
        TaskKind.COMPLETE_POSTMORTEM: postmortem is not None and postmortem.status == PostmortemStatus.COMPLETED,
        TaskKind.SHARE_POSTMORTEM: postmortem is not None and postmortem.shared_at is not None,
        TaskKind.SCHEDULE_DEBRIEF: Debrief.objects.filter(incident=incident).exists(),
        TaskKind.CREATE_FOLLOW_UPS: FollowUp.objects.filter(incident=incident).exists(),
    }

    def done(task) -> bool:
        if task.kind == TaskKind.ASSIGN_ROLE:
            return task.target_role_id in held
        return facts.get(task.kind, False)

    return done


def test_random_sequences_keep_the_learning_flow_consistent():
    run = get_state_machine_test(
        LearningFlowMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                          print_blob=True),
    )
    try:
        seed(SEED)(run)()
    except BaseException as exc:
        exc.add_note(f"Hypothesis seed {SEED}: rerun with RELIABILITY_SEED={SEED} to replay these examples.")
        raise
