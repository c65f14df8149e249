"""Post-mortems, debriefs (and their .ics invites) and follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.ics import debrief_invite
from incidentio.incidents.models import (
    Debrief,
    EventKind,
    FollowUp,
    FollowUpPriority,
    FollowUpStatus,
    Postmortem,
    PostmortemStatus,
    TimelineEvent,
)
from incidentio.incidents.services.documents import (
    POSTMORTEM_TEMPLATE,
    debrief_schedule,
    postmortem_create,
    postmortem_edit,
    postmortem_set_status,
    postmortem_share,
)
from incidentio.incidents.services.follow_ups import (
    follow_up_complete,
    follow_up_create,
    follow_up_edit,
    follow_up_not_doing,
)
from incidentio.incidents.services.incidents import incident_declare


def events(incident, kind: str) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).order_by("occurred_at", "pk"))


@pytest.fixture
def as_owner(owner):
    return Actor.for_user(owner)


@pytest.fixture
def incident(acme, as_owner):
    return incident_declare(org=acme, actor=as_owner, name="Checkout is down")


# --- Post-mortems ------------------------------------------------------------------------------


def test_postmortem_starts_from_the_template(incident, owner, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner)

    postmortem.refresh_from_db()
    assert postmortem.content == POSTMORTEM_TEMPLATE
    assert "## Root causes" in postmortem.content
    assert postmortem.status == PostmortemStatus.DRAFT
    assert not postmortem.is_shared
    assert postmortem.created_by == owner
    [created] = events(incident, EventKind.POSTMORTEM_CREATED)
    assert created.actor_user == owner


def test_postmortem_can_start_from_given_content(incident, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner, content="# Our notes")

    assert Postmortem.objects.get(pk=postmortem.pk).content == "# Our notes"


def test_second_postmortem_is_refused(incident, as_owner):
    first = postmortem_create(incident=incident, actor=as_owner, content="first")

    with pytest.raises(ServiceError, match="already has a post-mortem"):
        postmortem_create(incident=incident, actor=as_owner, content="second")

    assert list(Postmortem.objects.filter(incident=incident)) == [first]
    assert Postmortem.objects.get(pk=first.pk).content == "first"
    assert len(events(incident, EventKind.POSTMORTEM_CREATED)) == 1


def test_oversized_postmortem_is_refused(incident, as_owner):
    with pytest.raises(ServiceError) as error:
        postmortem_create(incident=incident, actor=as_owner, content="x" * 200_001)

    assert error.value.field == "content"
    assert not Postmortem.objects.filter(incident=incident).exists()
    assert events(incident, EventKind.POSTMORTEM_CREATED) == []


def test_postmortem_edit_saves_content_without_an_event(incident, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner)
    timeline_before = TimelineEvent.objects.filter(incident=incident).count()

    postmortem_edit(postmortem=postmortem, actor=as_owner, content="## Summary\n\nA bad deploy.")

    assert Postmortem.objects.get(pk=postmortem.pk).content == "## Summary\n\nA bad deploy."
    assert TimelineEvent.objects.filter(incident=incident).count() == timeline_before


def test_postmortem_status_change_is_recorded(incident, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner)

    postmortem_set_status(postmortem=postmortem, actor=as_owner, status=PostmortemStatus.IN_REVIEW)
    postmortem_set_status(postmortem=postmortem, actor=as_owner, status=PostmortemStatus.COMPLETED)

    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.COMPLETED
    in_review, completed = events(incident, EventKind.POSTMORTEM_STATUS_CHANGED)
    assert in_review.text == "Post-mortem marked in review"
    assert completed.text == "Post-mortem marked completed"
    assert completed.data == {"from": "In review", "to": "completed"}


def test_setting_the_same_postmortem_status_writes_no_event(incident, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner)

    postmortem_set_status(postmortem=postmortem, actor=as_owner, status=PostmortemStatus.DRAFT)

    assert events(incident, EventKind.POSTMORTEM_STATUS_CHANGED) == []


def test_unknown_postmortem_status_is_refused(incident, as_owner):
    postmortem = postmortem_create(incident=incident, actor=as_owner)

    with pytest.raises(ServiceError) as error:
        postmortem_set_status(postmortem=postmortem, actor=as_owner, status="published")

    assert error.value.field == "status"
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.DRAFT
    assert events(incident, EventKind.POSTMORTEM_STATUS_CHANGED) == []


def test_sharing_a_postmortem_is_recorded_once(incident, owner, as_owner, responder):
    postmortem = postmortem_create(incident=incident, actor=as_owner)

    postmortem_share(postmortem=postmortem, actor=as_owner)
    shared_at = Postmortem.objects.get(pk=postmortem.pk).shared_at
    postmortem_share(postmortem=postmortem, actor=Actor.for_user(responder))

    postmortem = Postmortem.objects.get(pk=postmortem.pk)
    assert postmortem.is_shared
    assert postmortem.shared_at == shared_at
    [shared] = events(incident, EventKind.POSTMORTEM_SHARED)
    assert shared.actor_user == owner


# --- Debriefs -------------------------------------------------------------------------------------


WHEN = datetime(2030, 3, 4, 15, 30, tzinfo=UTC)


def test_debrief_schedule_is_recorded(incident, owner, responder, as_owner):
    debrief = debrief_schedule(
        incident=incident, actor=as_owner, scheduled_at=WHEN, duration_minutes=45,
        location=" Room 4 ", attendees=[owner, responder],
    )

    debrief = Debrief.objects.get(pk=debrief.pk)
    assert debrief.scheduled_at == WHEN
    assert debrief.ends_at == WHEN + timedelta(minutes=45)
    assert debrief.location == "Room 4"
    assert set(debrief.attendees.all()) == {owner, responder}
    [scheduled] = events(incident, EventKind.DEBRIEF_SCHEDULED)
    assert scheduled.text == "Debrief scheduled for Mon 04 Mar 2030 15:30 UTC"
    assert scheduled.data["debrief_id"] == str(debrief.public_id)


def test_debrief_attendees_must_be_members(incident, owner, outsider, as_owner):
    with pytest.raises(ServiceError) as error:
        debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN, attendees=[owner, outsider])

    assert error.value.field == "attendees"
    assert outsider.email in str(error.value)
    assert not Debrief.objects.exists()
    assert events(incident, EventKind.DEBRIEF_SCHEDULED) == []


@pytest.mark.parametrize("minutes", [0, 4, 481, 24 * 60])
def test_debrief_duration_out_of_bounds_is_refused(incident, as_owner, minutes):
    with pytest.raises(ServiceError) as error:
        debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN, duration_minutes=minutes)

    assert error.value.field == "duration_minutes"
    assert not Debrief.objects.exists()
    assert events(incident, EventKind.DEBRIEF_SCHEDULED) == []


@pytest.mark.parametrize("minutes", [5, 480])
def test_debrief_duration_bounds_are_inclusive(incident, as_owner, minutes):
    debrief = debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN, duration_minutes=minutes)

    assert debrief.duration_minutes == minutes


# --- The .ics invite ------------------------------------------------------------------------------


def unfolded(ics: bytes) -> str:
    """The invite's text with RFC 5545 line folding undone."""
    return ics.decode().replace("\r\n ", "")


def test_debrief_invite_is_a_calendar_event(incident, owner, responder, as_owner):
    debrief = debrief_schedule(
        incident=incident, actor=as_owner, scheduled_at=WHEN, duration_minutes=30,
        location="https://meet.example.com/abc", attendees=[owner, responder],
    )

    text = unfolded(debrief_invite(debrief, incident=incident))

    assert text.startswith("BEGIN:VCALENDAR")
    assert "END:VCALENDAR" in text
    assert "BEGIN:VEVENT" in text
    assert "SUMMARY:Debrief: INC-1 Checkout is down" in text
    assert "DTSTART:20300304T153000Z" in text
    assert "DTEND:20300304T160000Z" in text
    assert "mailto:owner@acme.test" in text
    assert "mailto:responder@acme.test" in text
    assert f"/acme/incidents/{incident.public_id}/" in text

    # A calendar reads it back as one event with both attendees.
    [event] = Calendar.from_ical(debrief_invite(debrief, incident=incident)).walk("VEVENT")
    assert event.decoded("dtstart") == WHEN
    attendees = event.get("attendee")
    assert sorted(str(a) for a in attendees) == ["mailto:owner@acme.test", "mailto:responder@acme.test"]
    assert str(event.get("location")) == "https://meet.example.com/abc"


def test_debrief_invite_has_a_stable_uid(incident, as_owner):
    debrief = debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN)
    other = debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN + timedelta(days=1))

    def uid(d) -> str:
        [event] = Calendar.from_ical(debrief_invite(d, incident=incident)).walk("VEVENT")
        return str(event["uid"])

    assert uid(debrief) == uid(Debrief.objects.get(pk=debrief.pk))
    assert uid(debrief) != uid(other)
    assert str(debrief.public_id) in uid(debrief)


def test_debrief_invite_without_attendees_has_none(incident, as_owner):
    debrief = debrief_schedule(incident=incident, actor=as_owner, scheduled_at=WHEN)

    assert "ATTENDEE" not in unfolded(debrief_invite(debrief, incident=incident))


# --- Follow-ups -----------------------------------------------------------------------------------


def test_follow_up_create_is_recorded(incident, owner, responder, as_owner):
    follow_up = follow_up_create(
        incident=incident, actor=as_owner, title="  Add a canary stage  ", description=" details ",
        assignee=responder, priority=FollowUpPriority.HIGH,
    )

    follow_up = FollowUp.objects.get(pk=follow_up.pk)
    assert follow_up.title == "Add a canary stage"
    assert follow_up.description == "details"
    assert follow_up.assignee == responder
    assert follow_up.priority == FollowUpPriority.HIGH
    assert follow_up.status == FollowUpStatus.OUTSTANDING
    assert follow_up.created_by == owner
    assert follow_up.org == incident.org  # Insights counts an org's follow-ups by their own org
    [created] = events(incident, EventKind.FOLLOW_UP_CREATED)
    assert created.text == "Follow-up created: Add a canary stage"
    assert created.data == {"follow_up_id": str(follow_up.public_id)}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "Fix it", "priority": "whenever"}, "priority"),
    ],
)
def test_follow_up_create_refuses_bad_input(incident, as_owner, kwargs, field):
    with pytest.raises(ServiceError) as error:
        follow_up_create(incident=incident, actor=as_owner, **kwargs)

    assert error.value.field == field
    assert not FollowUp.objects.exists()
    assert events(incident, EventKind.FOLLOW_UP_CREATED) == []


def test_follow_up_for_a_non_member_is_refused(incident, outsider, as_owner):
    with pytest.raises(ServiceError) as error:
        follow_up_create(incident=incident, actor=as_owner, title="Fix it", assignee=outsider)

    assert error.value.field == "assignee"
    assert not FollowUp.objects.exists()


@pytest.fixture
def follow_up(incident, as_owner):
    return follow_up_create(incident=incident, actor=as_owner, title="Add a canary stage")


def test_follow_up_edit_lists_the_changed_fields(incident, follow_up, responder, as_owner):
    follow_up_edit(
        follow_up=follow_up, actor=as_owner, title="Add a canary stage", priority=FollowUpPriority.URGENT,
        assignee=responder,
    )

    follow_up = FollowUp.objects.get(pk=follow_up.pk)
    assert follow_up.priority == FollowUpPriority.URGENT
    assert follow_up.assignee == responder
    [updated] = events(incident, EventKind.FOLLOW_UP_UPDATED)
    assert sorted(updated.data["fields"]) == ["assignee", "priority"]
    assert updated.text == "Follow-up “Add a canary stage” updated (priority, assignee)"


def test_follow_up_edit_without_changes_writes_no_event(incident, follow_up, as_owner):
    follow_up_edit(
        follow_up=follow_up, actor=as_owner, title=" Add a canary stage ", description="",
        priority=FollowUpPriority.MEDIUM, assignee=None,
    )

    assert events(incident, EventKind.FOLLOW_UP_UPDATED) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"priority": "asap"}, "priority"),
    ],
)
def test_follow_up_edit_refuses_bad_input(incident, follow_up, as_owner, kwargs, field):
    with pytest.raises(ServiceError) as error:
        follow_up_edit(follow_up=follow_up, actor=as_owner, **kwargs)

    assert error.value.field == field
    saved = FollowUp.objects.get(pk=follow_up.pk)
    assert (saved.title, saved.priority) == ("Add a canary stage", FollowUpPriority.MEDIUM)
    assert events(incident, EventKind.FOLLOW_UP_UPDATED) == []


def test_follow_up_edit_refuses_a_non_member_assignee(incident, follow_up, outsider, as_owner):
    with pytest.raises(ServiceError) as error:
        follow_up_edit(follow_up=follow_up, actor=as_owner, assignee=outsider, title="Renamed")

    assert error.value.field == "assignee"
    saved = FollowUp.objects.get(pk=follow_up.pk)
    assert saved.assignee is None
    assert saved.title == "Add a canary stage"


def test_follow_up_complete_is_recorded_once(incident, follow_up, as_owner):
    follow_up_complete(follow_up=follow_up, actor=as_owner)
    follow_up_complete(follow_up=follow_up, actor=as_owner)

    saved = FollowUp.objects.get(pk=follow_up.pk)
    assert saved.status == FollowUpStatus.COMPLETED
    assert saved.completed_at is not None
    [completed] = events(incident, EventKind.FOLLOW_UP_COMPLETED)
    assert completed.text == "Follow-up completed: Add a canary stage"


def test_follow_up_not_doing_records_the_reason(incident, follow_up, as_owner):
    follow_up_complete(follow_up=follow_up, actor=as_owner)
    follow_up_not_doing(follow_up=follow_up, actor=as_owner, reason="  Covered by the new pipeline ")

    saved = FollowUp.objects.get(pk=follow_up.pk)
    assert saved.status == FollowUpStatus.NOT_DOING
    assert saved.completed_at is None
    assert saved.not_doing_reason == "Covered by the new pipeline"
    [not_doing] = events(incident, EventKind.FOLLOW_UP_NOT_DOING)
    assert not_doing.text == "Follow-up marked not doing: Add a canary stage — Covered by the new pipeline"
    assert not_doing.data["reason"] == "Covered by the new pipeline"


def test_follow_up_not_doing_without_reason(incident, follow_up, as_owner):
    follow_up_not_doing(follow_up=follow_up, actor=as_owner)

    [not_doing] = events(incident, EventKind.FOLLOW_UP_NOT_DOING)
    assert not_doing.text == "Follow-up marked not doing: Add a canary stage"
