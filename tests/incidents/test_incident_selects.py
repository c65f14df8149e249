"""The incident page's selects, rendered by Django's templates: each offers the
right choices, escaped, with the current one chosen."""

from __future__ import annotations

import re
from html import unescape

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask, TaskState
from learning.services.flow import incident_close
from orgs.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(incident, suffix="") -> str:
    return f"/{incident.org.slug}/incidents/{incident.public_id}/{suffix}"


def _select(html: str, pattern: str) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` of each option of the one select whose start tag matches ``pattern``."""
    found = re.findall(rf"<select {pattern}[^>]*>(.*?)</select>", html, re.S)
    assert len(found) == 1, pattern
    return [(value, unescape(label), bool(selected))
            for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', found[0])]


def _chosen(options) -> list[str]:
    return [value for value, _, selected in options if selected]


@pytest.fixture
def mallory(acme):
    return MembershipFactory(org=acme, role=Role.RESPONDER,
                             user=UserFactory(email="mallory@acme.test", name="<script>x</script> M")).user


def test_each_role_select_offers_every_member_with_the_holder_chosen(
    signed_in, acme, owner, responder, mallory
):
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Down", lead=responder)
    html = signed_in(responder, acme).get(_url(incident)).content.decode()

    # Named, in the order of the names: "Name (e-mail)" was cut off by the select's width.
    members = [("", "— Nobody —"), *sorted(
        ((str(u.pk), u.name) for u in (owner, responder, mallory)), key=lambda choice: choice[1].casefold()
    )]
    for role in IncidentRole.objects.filter(org=acme):
        options = _select(html, f'name="user" aria-label="{role.name}"')
        assert [(value, label) for value, label, _ in options] == members
        holder = incident.role_assignments.filter(role=role).first()
        assert _chosen(options) == ([str(holder.user_id)] if holder else [])
    assert "<script>x</script>" not in html and ">&lt;script&gt;x&lt;/script&gt; M</option>" in html


def test_the_status_and_severity_selects_show_the_incidents_values(signed_in, acme, responder):
    severity = Severity.objects.filter(org=acme).order_by("-rank").first()
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Down", severity=severity)
    html = signed_in(responder, acme).get(_url(incident)).content.decode()

    status = _select(html, 'name="status" id="id_status"')
    assert _chosen(status) == [str(incident.status.public_id)]
    assert all(label for _, label, _ in status)
    severities = _select(html, 'name="severity" id="id_severity"')
    assert severities[0][:2] == ("", "— Not set —")
    assert [value for value, _, _ in severities[1:]] == [
        str(s.public_id) for s in Severity.objects.filter(org=acme).order_by("rank", "pk")]
    assert _chosen(severities) == [str(severity.public_id)]


def test_each_task_select_has_its_assignee_chosen(signed_in, acme, responder, owner, eager_celery):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Down", lead=responder)
    incident_close(incident=incident, actor=Actor.for_user(responder), learning_flow="run")
    tasks = list(LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING))
    assert tasks
    tasks[0].assignee = owner
    tasks[0].save(update_fields=["assignee"])

    html = signed_in(responder, acme).get(_url(incident)).content.decode()
    for task in tasks:
        task.refresh_from_db()
        options = _select(html, f'name="assignee" aria-label="Assignee of {task.title}"')
        assert options[0][:2] == ("", "— Nobody —") and len(options) == 3  # nobody, owner, responder
        assert _chosen(options) == ([str(task.assignee_id)] if task.assignee_id else [])


def test_member_selects_show_a_rename_and_a_new_member_on_the_next_view(signed_in, acme, owner, responder):
    """Each distinct select's options are rendered once and kept: another member list is another entry."""
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Down", lead=responder)
    client = signed_in(responder, acme)
    lead = IncidentRole.objects.get(org=acme, kind="lead")
    client.get(_url(incident))  # rendered and kept

    owner.name = "Olga Renamed"
    owner.save(update_fields=["name"])
    MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email="newbie@acme.test", name="Newbie"))
    options = _select(client.get(_url(incident)).content.decode(), f'name="user" aria-label="{lead.name}"')

    labels = [label for _, label, _ in options]
    assert "Olga Renamed" in labels and "Newbie" in labels
    assert _chosen(options) == [str(responder.pk)]
