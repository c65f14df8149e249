"""The incident lifecycle services: declare, triage, edit, roles, updates, close.

Each test calls the service the dashboard, the API and Slack all call, and
asserts what a responder would notice: the incident's state, its timeline,
and that a refused change wrote nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    ActorKind,
    EventKind,
    Incident,
    IncidentCounter,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    RoleKind,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.services.incidents import (
    incident_accept,
    incident_assign_role,
    incident_cancel,
    incident_declare,
    incident_decline,
    incident_edit,
    incident_merge,
    incident_post_update,
    incident_update_timestamps,
)
from learning.models import UnmatchedPolicy
from learning.services.configuration import rules_update
from learning.services.flow import incident_close

# --- Helpers ------------------------------------------------------------------------


def status(org, name: str) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def severity(org, name: str) -> Severity:
    return Severity.objects.get(org=org, name=name)


def role(org, kind: str) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=kind)


def events(incident, kind: str | None = None) -> list[TimelineEvent]:
    qs = TimelineEvent.objects.filter(incident=incident).order_by("occurred_at", "pk")
    if kind is not None:
        qs = qs.filter(kind=kind)
    return list(qs)


def counter(org) -> int:
    return IncidentCounter.objects.get(org=org).last_number


def fresh(incident) -> Incident:
    return Incident.objects.select_related("status", "severity").get(pk=incident.pk)


@pytest.fixture
def as_owner(owner):
    return Actor.for_user(owner)


@pytest.fixture
def closes_straight(acme):
    """The org never runs the learning flow, so closing goes straight to Closed."""
    rules_update(org=acme, auto_enter_min_severity=None, otherwise=UnmatchedPolicy.NEVER)


@pytest.fixture
def live(acme, as_owner):
    return incident_declare(org=acme, actor=as_owner, name="Checkout is down")


@pytest.fixture
def triaged(acme, as_owner):
    return incident_declare(org=acme, actor=as_owner, name="Maybe slow logins", triage=True)


# --- Declare ---------------------------------------------------------------------------


def test_declare_hands_out_sequential_references_per_org(acme, globex, owner, outsider):
    first = incident_declare(org=acme, actor=Actor.for_user(owner), name="One")
    second = incident_declare(org=acme, actor=Actor.for_user(owner), name="Two")
    other = incident_declare(org=globex, actor=Actor.for_user(outsider), name="Elsewhere")
    third = incident_declare(org=acme, actor=Actor.for_user(owner), name="Three")

    assert [first.reference, second.reference, third.reference] == ["INC-1", "INC-2", "INC-3"]
    assert other.reference == "INC-1"
    assert counter(acme) == 3
    assert counter(globex) == 1


def test_declare_starts_live_with_accepted_time(acme, owner, as_owner):
    incident = fresh(incident_declare(org=acme, actor=as_owner, name="  API errors  ", summary=" 5xx "))

    assert incident.name == "API errors"
    assert incident.summary == "5xx"
    assert incident.status.category == StatusCategory.LIVE
    assert incident.status.name == "Investigating"
    assert incident.accepted_at is not None
    assert incident.accepted_at == incident.reported_at
    assert incident.created_by == owner
    assert incident.org == acme


def test_declare_into_triage_is_not_yet_accepted(acme, as_owner):
    incident = fresh(incident_declare(org=acme, actor=as_owner, name="Odd graphs", triage=True))

    assert incident.status.category == StatusCategory.TRIAGE
    assert incident.accepted_at is None
    [declared] = events(incident, EventKind.DECLARED)
    assert "triage" in declared.text


def test_declare_records_declared_event_with_actor(acme, owner, as_owner):
    incident = incident_declare(org=acme, actor=as_owner, name="Queue backlog", severity=severity(acme, "Major"))

    [declared] = events(incident, EventKind.DECLARED)
    assert declared.actor_kind == ActorKind.USER
    assert declared.actor_user == owner
    assert declared.actor_name == owner.display_name
    assert "INC-1" in declared.text
    assert declared.data["severity"] == "Major"
    assert declared.data["status"] == "Investigating"


def test_declare_makes_the_declarer_reporter(acme, owner, as_owner):
    incident = incident_declare(org=acme, actor=as_owner, name="Queue backlog")

    [assignment] = IncidentRoleAssignment.objects.filter(incident=incident)
    assert assignment.role == role(acme, RoleKind.REPORTER)
    assert assignment.user == owner


def test_declare_with_lead_assigns_lead_and_records_it(acme, owner, responder, as_owner):
    incident = incident_declare(org=acme, actor=as_owner, name="Queue backlog", lead=responder)

    lead = IncidentRoleAssignment.objects.get(incident=incident, role=role(acme, RoleKind.LEAD))
    assert lead.user == responder
    [assigned] = events(incident, EventKind.ROLE_ASSIGNED)
    assert assigned.actor_user == owner
    assert responder.display_name in assigned.text
    assert "Incident Lead" in assigned.text
    assert assigned.data["role_kind"] == RoleKind.LEAD
    # Declared first, then the lead was assigned.
    assert [e.kind for e in events(incident)] == [EventKind.DECLARED, EventKind.ROLE_ASSIGNED]


@pytest.mark.parametrize("name", ["", "   ", "\n\t"])
def test_declare_without_name_is_refused_and_writes_nothing(acme, as_owner, name):
    with pytest.raises(ServiceError) as error:
        incident_declare(org=acme, actor=as_owner, name=name)

    assert error.value.field == "name"
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0
    assert counter(acme) == 0


def test_declare_with_another_orgs_severity_is_refused(acme, globex, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_declare(org=acme, actor=as_owner, name="X", severity=severity(globex, "Critical"))

    assert error.value.field == "severity"
    assert Incident.objects.count() == 0
    assert counter(acme) == 0


def test_declare_with_non_member_lead_is_refused(acme, as_owner, outsider):
    with pytest.raises(ServiceError) as error:
        incident_declare(org=acme, actor=as_owner, name="X", lead=outsider)

    assert error.value.field == "lead"
    assert outsider.email in str(error.value)
    assert Incident.objects.count() == 0
    assert IncidentRoleAssignment.objects.count() == 0
    assert counter(acme) == 0


def test_refused_declare_does_not_consume_a_reference(acme, as_owner):
    incident_declare(org=acme, actor=as_owner, name="One")
    with pytest.raises(ServiceError):
        incident_declare(org=acme, actor=as_owner, name=" ")
    second = incident_declare(org=acme, actor=as_owner, name="Two")

    assert second.reference == "INC-2"


# --- Triage: accept, decline, merge, cancel -----------------------------------------------------


def test_accept_makes_a_triaged_incident_live(triaged, owner, as_owner):
    incident = incident_accept(incident=triaged, actor=as_owner)

    incident = fresh(incident)
    assert incident.status.category == StatusCategory.LIVE
    assert incident.accepted_at is not None
    [accepted] = events(incident, EventKind.ACCEPTED)
    assert accepted.actor_user == owner
    assert accepted.data["from"] == "Triage"
    assert accepted.data["to"] == "Investigating"


def test_accept_of_a_live_incident_is_refused(live, as_owner):
    before = len(events(live))
    with pytest.raises(ServiceError, match="not in triage"):
        incident_accept(incident=live, actor=as_owner)

    assert len(events(live)) == before


def test_decline_needs_a_reason(triaged, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_decline(incident=triaged, actor=as_owner, reason="  ")

    assert error.value.field == "reason"
    assert fresh(triaged).status.category == StatusCategory.TRIAGE
    assert events(triaged, EventKind.DECLINED) == []


def test_decline_finishes_a_triaged_incident_with_the_reason(triaged, as_owner):
    incident_decline(incident=triaged, actor=as_owner, reason="A planned maintenance window")

    incident = fresh(triaged)
    assert incident.status.category == StatusCategory.DECLINED
    assert incident.closed_at is not None
    [declined] = events(incident, EventKind.DECLINED)
    assert declined.text == "A planned maintenance window"
    assert declined.data == {"reason": "A planned maintenance window"}


def test_decline_of_a_live_incident_is_refused(live, as_owner):
    with pytest.raises(ServiceError):
        incident_decline(incident=live, actor=as_owner, reason="nope")

    assert fresh(live).is_live


def test_merge_folds_a_triaged_incident_into_another(acme, triaged, live, as_owner):
    incident_merge(incident=triaged, actor=as_owner, into=live)

    incident = fresh(triaged)
    assert incident.status.category == StatusCategory.MERGED
    assert incident.merged_into == live
    assert incident.closed_at is not None
    [merged] = events(incident, EventKind.MERGED)
    assert live.reference in merged.text
    assert merged.data["into_reference"] == live.reference
    # The surviving incident is untouched.
    assert fresh(live).is_live


def test_merge_into_itself_is_refused(triaged, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_merge(incident=triaged, actor=as_owner, into=triaged)

    assert error.value.field == "into"
    assert fresh(triaged).status.category == StatusCategory.TRIAGE
    assert fresh(triaged).merged_into is None


def test_merge_into_another_orgs_incident_is_refused(globex, outsider, triaged, as_owner):
    theirs = incident_declare(org=globex, actor=Actor.for_user(outsider), name="Theirs")

    with pytest.raises(ServiceError) as error:
        incident_merge(incident=triaged, actor=as_owner, into=theirs)

    assert error.value.field == "into"
    assert fresh(triaged).merged_into is None
    assert events(triaged, EventKind.MERGED) == []


def test_merge_into_a_finished_incident_is_refused(triaged, live, as_owner, closes_straight):
    incident_close(incident=live, actor=as_owner)

    with pytest.raises(ServiceError, match="finished") as error:
        incident_merge(incident=triaged, actor=as_owner, into=fresh(live))

    assert error.value.field == "into"
    assert fresh(triaged).status.category == StatusCategory.TRIAGE


def test_merge_of_a_live_incident_is_refused(acme, live, as_owner):
    other = incident_declare(org=acme, actor=as_owner, name="Other")
    with pytest.raises(ServiceError, match="not in triage"):
        incident_merge(incident=live, actor=as_owner, into=other)


def test_cancel_from_triage_records_the_reason(triaged, as_owner):
    incident_cancel(incident=triaged, actor=as_owner, reason="Declared by mistake")

    incident = fresh(triaged)
    assert incident.status.category == StatusCategory.CANCELED
    assert incident.closed_at is not None
    [changed] = events(incident, EventKind.STATUS_CHANGED)
    assert changed.data["from"] == "Triage"
    assert changed.data["to"] == "Canceled"
    assert "Declared by mistake" in changed.text


def test_cancel_needs_a_reason(triaged, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_cancel(incident=triaged, actor=as_owner, reason="")

    assert error.value.field == "reason"
    assert fresh(triaged).status.category == StatusCategory.TRIAGE


def test_cancel_of_a_closed_incident_is_refused(live, as_owner, closes_straight):
    incident_close(incident=live, actor=as_owner)

    with pytest.raises(ServiceError, match="can no longer be canceled"):
        incident_cancel(incident=live, actor=as_owner, reason="oops")
    assert fresh(live).status.category == StatusCategory.CLOSED


# --- Edit -----------------------------------------------------------------------------------------


def test_rename_records_old_and_new_name(live, as_owner):
    incident_edit(incident=live, actor=as_owner, name="Checkout is slow")

    assert fresh(live).name == "Checkout is slow"
    [renamed] = events(live, EventKind.RENAMED)
    assert "Checkout is down" in renamed.text
    assert "Checkout is slow" in renamed.text
    assert renamed.data == {"from": "Checkout is down", "to": "Checkout is slow"}


def test_rename_to_blank_is_refused(live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_edit(incident=live, actor=as_owner, name="  ")

    assert error.value.field == "name"
    assert fresh(live).name == "Checkout is down"


def test_summary_change_is_recorded_with_the_new_text(live, as_owner):
    incident_edit(incident=live, actor=as_owner, summary="  Card payments fail for EU customers. ")

    assert fresh(live).summary == "Card payments fail for EU customers."
    [updated] = events(live, EventKind.SUMMARY_UPDATED)
    assert updated.text == "Card payments fail for EU customers."


def test_severity_change_records_from_and_to(acme, live, as_owner):
    incident_edit(incident=live, actor=as_owner, severity=severity(acme, "Minor"))
    incident_edit(incident=live, actor=as_owner, severity=severity(acme, "Critical"))

    assert fresh(live).severity.name == "Critical"
    first, second = events(live, EventKind.SEVERITY_CHANGED)
    assert first.text == "Severity changed from none to Minor"
    assert second.text == "Severity changed from Minor to Critical"
    assert second.data == {"from": "Minor", "to": "Critical"}


def test_live_status_change_records_from_and_to(acme, live, as_owner):
    incident_edit(incident=live, actor=as_owner, status=status(acme, "Fixing"))

    assert fresh(live).status.name == "Fixing"
    [changed] = events(live, EventKind.STATUS_CHANGED)
    assert changed.text == "Status changed from Investigating to Fixing"
    assert changed.data["from"] == "Investigating"
    assert changed.data["to"] == "Fixing"


def test_one_edit_of_everything_writes_one_event_per_change(acme, live, as_owner):
    incident_edit(
        incident=live,
        actor=as_owner,
        name="Renamed",
        summary="New summary",
        severity=severity(acme, "Major"),
        status=status(acme, "Fixing"),
    )

    kinds = [e.kind for e in events(live) if e.kind != EventKind.DECLARED]
    assert sorted(kinds) == sorted(
        [EventKind.RENAMED, EventKind.SUMMARY_UPDATED, EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED]
    )


def test_edit_without_changes_writes_no_event(acme, live, as_owner):
    incident_edit(
        incident=live, actor=as_owner, name="Checkout is down", summary="", status=status(acme, "Investigating")
    )

    assert [e.kind for e in events(live)] == [EventKind.DECLARED]


def test_entering_fixing_sets_identified_and_monitoring_sets_fixed_once(acme, live, as_owner):
    assert fresh(live).identified_at is None

    incident_edit(incident=live, actor=as_owner, status=status(acme, "Fixing"))
    identified = fresh(live).identified_at
    assert identified is not None
    assert fresh(live).fixed_at is None

    incident_edit(incident=live, actor=as_owner, status=status(acme, "Monitoring"))
    fixed = fresh(live).fixed_at
    assert fixed is not None
    assert fixed >= identified

    # Back to Fixing and on to Monitoring again: the first times stand.
    incident_edit(incident=live, actor=as_owner, status=status(acme, "Fixing"))
    incident_edit(incident=live, actor=as_owner, status=status(acme, "Monitoring"))
    incident = fresh(live)
    assert incident.identified_at == identified
    assert incident.fixed_at == fixed
    assert incident.time_to_fix == fixed - incident.reported_at


def test_editing_a_closed_incidents_live_status_is_refused_and_changes_nothing(
    acme, live, as_owner, closes_straight
):
    incident_close(incident=live, actor=as_owner)
    before = len(events(live))

    with pytest.raises(ServiceError) as error:
        incident_edit(incident=live, actor=as_owner, name="Sneaky rename", status=status(acme, "Fixing"))

    assert error.value.field == "status"
    assert "closed" in str(error.value)
    assert "cannot change" in str(error.value)
    incident = fresh(live)
    assert incident.status.name == "Closed"
    assert incident.name == "Checkout is down"
    assert incident.identified_at is None
    assert len(events(live)) == before


def test_editing_a_triaged_incidents_status_is_refused(acme, triaged, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_edit(incident=triaged, actor=as_owner, status=status(acme, "Fixing"))

    assert error.value.field == "status"
    assert fresh(triaged).status.category == StatusCategory.TRIAGE


@pytest.mark.parametrize("name", ["Documenting", "Closed", "Triage", "Declined"])
def test_edit_refuses_a_status_that_is_not_live(acme, live, as_owner, name):
    with pytest.raises(ServiceError) as error:
        incident_edit(incident=live, actor=as_owner, status=status(acme, name), summary="not saved")

    assert error.value.field == "status"
    incident = fresh(live)
    assert incident.status.name == "Investigating"
    assert incident.summary == ""
    assert [e.kind for e in events(live)] == [EventKind.DECLARED]


def test_edit_refuses_another_orgs_status(globex, live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_edit(incident=live, actor=as_owner, status=status(globex, "Fixing"))

    assert error.value.field == "status"
    assert fresh(live).status.org_id == live.org_id
    assert fresh(live).status.name == "Investigating"


def test_edit_refuses_another_orgs_severity(globex, live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_edit(incident=live, actor=as_owner, severity=severity(globex, "Critical"))

    assert error.value.field == "severity"
    assert fresh(live).severity is None


# --- Roles ----------------------------------------------------------------------------------------


def test_assign_role_records_who_now_holds_it(acme, live, responder, as_owner):
    incident_assign_role(incident=live, actor=as_owner, role=role(acme, RoleKind.LEAD), user=responder)

    assert IncidentRoleAssignment.objects.get(incident=live, role__kind=RoleKind.LEAD).user == responder
    [assigned] = events(live, EventKind.ROLE_ASSIGNED)
    assert assigned.text == f"{responder.display_name} is now Incident Lead"


def test_reassigning_a_role_replaces_the_holder(acme, live, responder, admin, as_owner):
    lead = role(acme, RoleKind.LEAD)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=responder)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=admin)

    assert list(IncidentRoleAssignment.objects.filter(incident=live, role=lead).values_list("user", flat=True)) == [
        admin.pk
    ]
    assert len(events(live, EventKind.ROLE_ASSIGNED)) == 2


def test_assigning_the_same_holder_again_writes_no_event(acme, live, responder, as_owner):
    lead = role(acme, RoleKind.LEAD)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=responder)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=responder)

    assert len(events(live, EventKind.ROLE_ASSIGNED)) == 1


def test_unassign_role_records_it(acme, live, responder, as_owner):
    lead = role(acme, RoleKind.LEAD)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=responder)
    incident_assign_role(incident=live, actor=as_owner, role=lead, user=None)

    assert not IncidentRoleAssignment.objects.filter(incident=live, role=lead).exists()
    [unassigned] = events(live, EventKind.ROLE_UNASSIGNED)
    assert unassigned.text == f"{responder.display_name} is no longer Incident Lead"


def test_unassigning_an_empty_role_writes_no_event(acme, live, as_owner):
    incident_assign_role(incident=live, actor=as_owner, role=role(acme, RoleKind.LEAD), user=None)

    assert events(live, EventKind.ROLE_UNASSIGNED) == []


def test_assigning_a_non_member_is_refused(acme, live, outsider, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_assign_role(incident=live, actor=as_owner, role=role(acme, RoleKind.LEAD), user=outsider)

    assert error.value.field == "user"
    assert not IncidentRoleAssignment.objects.filter(incident=live, user=outsider).exists()
    assert events(live, EventKind.ROLE_ASSIGNED) == []


def test_assigning_another_orgs_role_is_refused(globex, live, responder, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_assign_role(incident=live, actor=as_owner, role=role(globex, RoleKind.LEAD), user=responder)

    assert error.value.field == "role"
    assert events(live, EventKind.ROLE_ASSIGNED) == []


def test_roles_of_a_declined_incident_are_frozen(acme, triaged, responder, as_owner):
    incident_decline(incident=triaged, actor=as_owner, reason="Not an incident")

    with pytest.raises(ServiceError, match="frozen"):
        incident_assign_role(incident=triaged, actor=as_owner, role=role(acme, RoleKind.LEAD), user=responder)


# --- Updates and timestamps -----------------------------------------------------------------------


def test_post_update_puts_the_message_on_the_timeline(live, responder):
    incident_post_update(incident=live, actor=Actor.for_user(responder), message="  Rolled back the deploy.  ")

    [update] = events(live, EventKind.UPDATE_POSTED)
    assert update.text == "Rolled back the deploy."
    assert update.actor_user == responder


def test_blank_update_is_refused(live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_post_update(incident=live, actor=as_owner, message=" \n ")

    assert error.value.field == "message"
    assert events(live, EventKind.UPDATE_POSTED) == []


def test_update_timestamps_records_the_correction(live, as_owner):
    started = timezone.now() - timedelta(hours=2)
    incident_update_timestamps(incident=live, actor=as_owner, values={"impact_started_at": started})

    assert fresh(live).impact_started_at == started
    [updated] = events(live, EventKind.TIMESTAMPS_UPDATED)
    assert updated.text.startswith("Impact started: ")
    assert updated.data == {"impact_started_at": started.isoformat()}


def test_clearing_a_timestamp_is_recorded(live, as_owner):
    incident_update_timestamps(incident=live, actor=as_owner, values={"accepted_at": None})

    assert fresh(live).accepted_at is None
    [updated] = events(live, EventKind.TIMESTAMPS_UPDATED)
    assert updated.text == "Accepted: cleared"


def test_unchanged_timestamps_write_no_event(live, as_owner):
    incident_update_timestamps(incident=live, actor=as_owner, values={"reported_at": fresh(live).reported_at})

    assert events(live, EventKind.TIMESTAMPS_UPDATED) == []


def test_reported_time_cannot_be_cleared(live, as_owner):
    reported = fresh(live).reported_at
    with pytest.raises(ServiceError) as error:
        incident_update_timestamps(incident=live, actor=as_owner, values={"reported_at": None})

    assert error.value.field == "reported_at"
    assert fresh(live).reported_at == reported
    assert events(live, EventKind.TIMESTAMPS_UPDATED) == []


def test_unknown_timestamp_is_refused(live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_update_timestamps(
            incident=live, actor=as_owner, values={"fixed_at": timezone.now(), "updated_at": timezone.now()}
        )

    assert error.value.field == "updated_at"
    assert fresh(live).fixed_at is None
    assert events(live, EventKind.TIMESTAMPS_UPDATED) == []


# --- Close ----------------------------------------------------------------------------------------


def test_close_ends_a_live_incident(live, owner, as_owner, closes_straight):
    incident_close(incident=live, actor=as_owner)

    incident = fresh(live)
    assert incident.status.name == "Closed"
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.closed_at is not None
    assert incident.resolved_at == incident.closed_at
    assert incident.is_finished
    [closed] = events(live, EventKind.CLOSED)
    assert closed.text == "Incident closed"
    assert closed.actor_user == owner


def test_close_keeps_a_resolved_time_set_earlier(live, as_owner, closes_straight):
    resolved = timezone.now() - timedelta(minutes=30)
    incident_update_timestamps(incident=live, actor=as_owner, values={"resolved_at": resolved})
    incident_close(incident=live, actor=as_owner)

    assert fresh(live).resolved_at == resolved


def test_closing_a_closed_incident_is_refused(live, as_owner, closes_straight):
    incident_close(incident=live, actor=as_owner)
    closed_at = fresh(live).closed_at

    with pytest.raises(ServiceError, match="cannot be closed"):
        incident_close(incident=live, actor=as_owner)

    assert fresh(live).closed_at == closed_at
    assert len(events(live, EventKind.CLOSED)) == 1


def test_close_without_choosing_about_the_learning_flow_is_refused_when_the_org_asks(live, as_owner):
    # The seeded rules ask whoever closes a non-critical incident.
    with pytest.raises(ServiceError) as error:
        incident_close(incident=live, actor=as_owner)

    assert error.value.field == "learning_flow"
    incident = fresh(live)
    assert incident.is_live
    assert incident.closed_at is None
    assert events(live, EventKind.CLOSED) == []


def test_close_opting_out_of_the_learning_flow_ends_in_closed(live, owner, as_owner):
    incident_close(incident=live, actor=as_owner, learning_flow="opt_out", opt_out_reason="A known flaky check")

    incident = fresh(live)
    assert incident.status.name == "Closed"
    assert incident.closed_at is not None
    assert incident.resolved_at is not None
    assert incident.opt_out_reason == "A known flaky check"
    assert incident.opted_out_by == owner
    [closed] = events(live, EventKind.CLOSED)
    assert closed.text == "Incident closed"


def test_close_opting_out_without_a_reason_is_refused(live, as_owner):
    with pytest.raises(ServiceError) as error:
        incident_close(incident=live, actor=as_owner, learning_flow="opt_out", opt_out_reason="  ")

    assert error.value.field == "opt_out_reason"
    assert fresh(live).is_live
    assert events(live, EventKind.CLOSED) == []


def test_closing_a_triaged_incident_is_refused(triaged, as_owner):
    with pytest.raises(ServiceError, match="not live"):
        incident_close(incident=triaged, actor=as_owner)

    assert fresh(triaged).status.category == StatusCategory.TRIAGE
    assert events(triaged, EventKind.CLOSED) == []


# --- Actors ---------------------------------------------------------------------------------------


def test_event_from_an_api_key_names_the_key(acme):
    actor = Actor.for_api_key(key_id="key_123", name="Deploy bot")
    incident = incident_declare(org=acme, actor=actor, name="From the API")

    [declared] = events(incident)
    assert declared.actor_kind == ActorKind.API_KEY
    assert declared.actor_user is None
    assert declared.actor_ref == "key_123"
    assert declared.actor_name == "Deploy bot"
    # No person declared it, so nobody is the reporter.
    assert not IncidentRoleAssignment.objects.filter(incident=incident).exists()
    assert incident.created_by is None


def test_event_from_a_slack_user_names_the_slack_user(acme, live):
    incident_post_update(
        incident=live, actor=Actor.for_slack_user(slack_user_id="U123", name="Ada (Slack)"), message="On it"
    )

    [update] = events(live, EventKind.UPDATE_POSTED)
    assert update.actor_kind == ActorKind.SLACK_USER
    assert update.actor_ref == "U123"
    assert update.actor_name == "Ada (Slack)"


def test_event_from_a_linked_slack_user_keeps_the_member(acme, live, responder):
    actor = Actor.for_slack_user(slack_user_id="U999", name="resp", user=responder)
    incident_post_update(incident=live, actor=actor, message="Looking")

    [update] = events(live, EventKind.UPDATE_POSTED)
    assert update.actor_kind == ActorKind.SLACK_USER
    assert update.actor_user == responder
    assert update.actor_name == "resp"


def test_event_from_the_system_is_named_incidentio(live):
    incident_post_update(incident=live, actor=Actor.system(), message="Automated check recovered")

    [update] = events(live, EventKind.UPDATE_POSTED)
    assert update.actor_kind == ActorKind.SYSTEM
    assert update.actor_user is None
    assert update.actor_name == "incidentio"


# --- Timeline and transactions --------------------------------------------------------------------


def test_timeline_events_cannot_be_changed(live):
    [declared] = events(live)
    declared.text = "rewritten history"

    with pytest.raises(ValueError, match="append-only"):
        declared.save()

    assert TimelineEvent.objects.get(pk=declared.pk).text != "rewritten history"


def test_services_roll_back_with_the_outer_transaction(acme, as_owner):
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        with transaction.atomic():
            incident = incident_declare(org=acme, actor=as_owner, name="Never happened")
            incident_post_update(incident=incident, actor=as_owner, message="Nor did this")
            raise Abort

    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0
    assert IncidentRoleAssignment.objects.count() == 0
    # The rolled-back declare gave its number back.
    assert counter(acme) == 0
    assert incident_declare(org=acme, actor=as_owner, name="First real one").reference == "INC-1"


def test_a_refused_service_inside_an_outer_transaction_leaves_the_rest_intact(acme, as_owner):
    with transaction.atomic():
        kept = incident_declare(org=acme, actor=as_owner, name="Kept")
        with pytest.raises(ServiceError):
            incident_declare(org=acme, actor=as_owner, name="")
        triaged = incident_declare(org=acme, actor=as_owner, name="Q", triage=True)
        with pytest.raises(ServiceError):
            incident_close(incident=triaged, actor=as_owner)

    assert sorted(Incident.objects.values_list("number", flat=True)) == [1, 2]
    assert counter(acme) == 2
    assert [e.kind for e in events(kept)] == [EventKind.DECLARED]


def test_overlong_names_are_refused_before_the_database_sees_them(acme, owner):
    from incidentio.common.errors import ServiceError
    from incidentio.incidents.services.follow_ups import follow_up_create

    actor = Actor.for_user(owner)
    with pytest.raises(ServiceError) as declared:
        incident_declare(org=acme, actor=actor, name="x" * 201)
    assert declared.value.field == "name"
    incident = incident_declare(org=acme, actor=actor, name="ok")
    with pytest.raises(ServiceError) as edited:
        incident_edit(incident=incident, actor=actor, name="y" * 201)
    assert edited.value.field == "name"
    with pytest.raises(ServiceError) as titled:
        follow_up_create(incident=incident, actor=actor, title="z" * 201)
    assert titled.value.field == "title"
