"""Every text a person writes has a length limit (incidentio/common/limits.py), and
the services enforce it: over the limit is a clear error on the field, and
nothing is written. The dashboard, the API and Slack all go through them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    Debrief,
    EventKind,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentStatus,
    Postmortem,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.services import configuration, documents, follow_ups
from incidentio.incidents.services import incidents as incident_svc
from learning.models import LearningTask, TaskTemplate
from learning.services import configuration as learning_config
from learning.services import flow, tasks
from learning.services.flow import incident_close
from orgs import services as org_svc
from orgs.models import ApiKey, ApiKeyRole, Organization, User

pytestmark = pytest.mark.django_db

TABLES = [Incident, TimelineEvent, Postmortem, Debrief, FollowUp, IncidentStatus, Severity, IncidentRole,
          TaskTemplate, LearningTask, ApiKey, Organization, User]


def snapshot() -> dict:
    """Every row of every table a refused change could have touched."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TABLES}


def over(limit: int) -> str:
    return "x" * (limit + 1)


class World:
    """An incident of acme in each shape the services below need."""

    def __init__(self, acme, owner):
        self.org = acme
        self.user = owner
        self.actor = Actor.for_user(owner)
        self.live = incident_svc.incident_declare(org=acme, actor=self.actor, name="Live")
        self.triage = incident_svc.incident_declare(org=acme, actor=self.actor, name="Triage", triage=True)
        self.postmortem = documents.postmortem_create(incident=self.live, actor=self.actor)
        self.follow_up = follow_ups.follow_up_create(incident=self.live, actor=self.actor, title="Add an alert")
        self.learning = incident_svc.incident_declare(org=acme, actor=self.actor, name="Learning")
        incident_close(incident=self.learning, actor=self.actor, learning_flow="run")
        self.task = LearningTask.objects.filter(incident=self.learning).first()
        self.learning_status = IncidentStatus.objects.filter(org=acme, category=StatusCategory.LEARNING).first()
        self.status = IncidentStatus.objects.filter(org=acme, category=StatusCategory.LIVE).first()
        self.severity = Severity.objects.filter(org=acme).first()
        self.role = IncidentRole.objects.filter(org=acme).first()


# (id, field the error names, the over-long call)
CASES = [
    ("declare-name", "name", lambda w: incident_svc.incident_declare(
        org=w.org, actor=w.actor, name=over(limits.INCIDENT_NAME))),
    ("declare-summary", "summary", lambda w: incident_svc.incident_declare(
        org=w.org, actor=w.actor, name="Ok", summary=over(limits.INCIDENT_SUMMARY))),
    ("edit-name", "name", lambda w: incident_svc.incident_edit(
        incident=w.live, actor=w.actor, name=over(limits.INCIDENT_NAME))),
    ("edit-summary", "summary", lambda w: incident_svc.incident_edit(
        incident=w.live, actor=w.actor, summary=over(limits.INCIDENT_SUMMARY))),
    ("decline-reason", "reason", lambda w: incident_svc.incident_decline(
        incident=w.triage, actor=w.actor, reason=over(limits.REASON))),
    ("cancel-reason", "reason", lambda w: incident_svc.incident_cancel(
        incident=w.live, actor=w.actor, reason=over(limits.REASON))),
    ("update-message", "message", lambda w: incident_svc.incident_post_update(
        incident=w.live, actor=w.actor, message=over(limits.UPDATE_MESSAGE))),
    ("close-opt-out-reason", "opt_out_reason", lambda w: incident_close(
        incident=w.live, actor=w.actor, learning_flow="opt_out", opt_out_reason=over(limits.REASON))),
    ("learning-opt-out-reason", "opt_out_reason", lambda w: flow.learning_opt_out(
        incident=w.learning, actor=w.actor, reason=over(limits.REASON))),
    ("postmortem-edit", "content", lambda w: documents.postmortem_edit(
        postmortem=w.postmortem, actor=w.actor, content=over(limits.POSTMORTEM))),
    ("debrief-location", "location", lambda w: documents.debrief_schedule(
        incident=w.live, actor=w.actor, scheduled_at=timezone.now() + timedelta(days=1),
        location=over(limits.DEBRIEF_LOCATION))),
    ("follow-up-title", "title", lambda w: follow_ups.follow_up_create(
        incident=w.live, actor=w.actor, title=over(limits.FOLLOW_UP_TITLE))),
    ("follow-up-description", "description", lambda w: follow_ups.follow_up_create(
        incident=w.live, actor=w.actor, title="Ok", description=over(limits.FOLLOW_UP_DESCRIPTION))),
    ("follow-up-edit-description", "description", lambda w: follow_ups.follow_up_edit(
        follow_up=w.follow_up, actor=w.actor, description=over(limits.FOLLOW_UP_DESCRIPTION))),
    ("follow-up-not-doing-reason", "reason", lambda w: follow_ups.follow_up_not_doing(
        follow_up=w.follow_up, actor=w.actor, reason=over(limits.REASON))),
    ("task-not-doing-reason", "reason", lambda w: tasks.task_not_doing(
        task=w.task, actor=w.actor, reason=over(limits.REASON))),
    ("status-name", "name", lambda w: configuration.status_create(
        org=w.org, name=over(limits.CONFIG_NAME), category=StatusCategory.LIVE)),
    ("status-description", "description", lambda w: configuration.status_update(
        status=w.status, name=w.status.name, description=over(limits.CONFIG_TEXT))),
    ("severity-description", "description", lambda w: configuration.severity_create(
        org=w.org, name="Ok", description=over(limits.CONFIG_TEXT))),
    ("role-shortform", "shortform", lambda w: configuration.role_create(
        org=w.org, name="Ok", shortform=over(limits.ROLE_SHORTFORM))),
    ("role-instructions", "instructions", lambda w: configuration.role_update(
        role=w.role, name=w.role.name, shortform=w.role.shortform, instructions=over(limits.CONFIG_TEXT))),
    ("template-title", "title", lambda w: learning_config.template_create(
        org=w.org, status=w.learning_status, title=over(limits.TASK_TITLE))),
    ("template-instructions", "instructions", lambda w: learning_config.template_create(
        org=w.org, status=w.learning_status, title="Ok", instructions=over(limits.CONFIG_TEXT))),
    ("org-name", "name", lambda w: org_svc.organization_rename(org=w.org, name=over(limits.ORG_NAME))),
    ("api-key-name", "name", lambda w: org_svc.api_key_create(
        org=w.org, name=over(limits.API_KEY_NAME), roles=[ApiKeyRole.INCIDENT_EDITOR], created_by=w.user)),
    ("user-name", "name", lambda w: org_svc.user_update_profile(user=w.user, name=over(limits.USER_NAME))),
]


@pytest.mark.parametrize(("field", "call"), [pytest.param(f, c, id=i) for i, f, c in CASES])
def test_over_long_text_is_refused_by_the_service_and_changes_nothing(acme, owner, field, call):
    world = World(acme, owner)
    assert world.task is not None
    before = snapshot()

    with pytest.raises(ServiceError) as refused:
        call(world)

    assert refused.value.field == field
    assert "can be at most" in str(refused.value)
    assert snapshot() == before


def test_text_at_the_limit_is_kept_whole(acme, owner):
    summary = "s" * limits.INCIDENT_SUMMARY
    incident = incident_svc.incident_declare(
        org=acme, actor=Actor.for_user(owner), name="n" * limits.INCIDENT_NAME, summary=summary
    )
    incident.refresh_from_db()
    assert incident.summary == summary and len(incident.name) == limits.INCIDENT_NAME


# --- Through the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


def test_dashboard_declare_with_an_over_long_summary_is_refused(as_responder, acme):
    response = as_responder.post(
        "/acme/incidents/declare/", {"name": "Payments failing", "summary": over(limits.INCIDENT_SUMMARY)}
    )

    assert response.status_code == 400
    assert "The summary can be at most 20,000 characters; this one has 20,001." in response.content.decode()
    assert not Incident.objects.filter(org=acme).exists()


def test_dashboard_edit_with_an_over_long_summary_is_refused_and_keeps_the_old_one(as_responder, acme, responder):
    incident = incident_svc.incident_declare(org=acme, actor=Actor.for_user(responder), name="Old", summary="Old")
    url = f"/acme/incidents/{incident.public_id}/details/"

    response = as_responder.post(url, {"name": "New", "summary": over(limits.INCIDENT_SUMMARY)})

    assert response.status_code == 303
    assert "The summary can be at most 20,000 characters" in as_responder.get(response["Location"]).content.decode()
    incident.refresh_from_db()
    assert (incident.name, incident.summary) == ("Old", "Old")
    assert not incident.timeline.filter(kind__in=[EventKind.RENAMED, EventKind.SUMMARY_UPDATED]).exists()
