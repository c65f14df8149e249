"""The incident dashboard through the Django test client: the list, declaring,
the incident page, and every action on it.

Actions post to their own URL and redirect back (PRG); refused input or an
invalid transition re-renders the page with a 400 and the message, having
changed nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import escape, unescape

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    FollowUpStatus,
    Incident,
    IncidentRole,
    IncidentStatus,
    LearningFlowState,
    Postmortem,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
    TimelineEvent,
)
from incidentio.incidents.selectors import TIMELINE_PAGE_EVENTS
from incidentio.incidents.services import documents, follow_ups
from incidentio.incidents.services.incidents import (
    incident_assign_role,
    incident_declare,
    incident_edit,
    incident_post_update,
)
from learning.services.flow import incident_close
from tests.form_errors import error_next_to

pytestmark = pytest.mark.django_db

LIST = "/acme/incidents/"
DECLARE = "/acme/incidents/declare/"


# --- Helpers --------------------------------------------------------------------------


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


def _declare(org, user, name="Checkout is down", **kwargs) -> Incident:
    return incident_declare(org=org, actor=Actor.for_user(user), name=name, **kwargs)


def _url(incident, suffix="") -> str:
    return f"/{incident.org.slug}/incidents/{incident.public_id}/{suffix}"


def _status(org, name) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def _severity(org, name) -> Severity:
    return Severity.objects.get(org=org, name=name)


def _role(org, kind) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=kind)


def _text(response) -> str:
    return response.content.decode()


def _timeline_section(response) -> str:
    html = _text(response)
    start = html.index('data-testid="timeline"')
    return html[start : html.index("</ol>", start)]


def _listed_references(response) -> list[str]:
    return [incident.reference for incident in response.context["page"].incidents]


def _reload(incident) -> Incident:
    return Incident.objects.select_related("status", "severity").get(pk=incident.pk)


def _refused(client, response):
    """A refused action answers as a successful one does, with a redirect (303)
    back to the page (post/redirect/get); that page shows the errors, and a
    reload of it is a GET like any other."""
    assert response.status_code == 303, _text(response)[:2000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page


def _follow(client, response):
    assert response.status_code == 302, _text(response)[:2000]
    return client.get(response["Location"])


# --- The list -------------------------------------------------------------------------


def test_list_shows_incidents_newest_first(as_responder, acme, responder):
    for name in ["Alpha outage", "Beta outage", "Gamma outage"]:
        _declare(acme, responder, name)
    response = as_responder.get(LIST)
    assert response.status_code == 200
    assert _listed_references(response) == ["INC-3", "INC-2", "INC-1"]
    html = _text(response)
    assert html.index("Gamma outage") < html.index("Beta outage") < html.index("Alpha outage")


def test_list_filters_by_category(as_responder, acme, responder):
    _declare(acme, responder, "Live one")
    _declare(acme, responder, "Maybe one", triage=True)
    assert _listed_references(as_responder.get(LIST, {"category": "triage"})) == ["INC-2"]
    assert _listed_references(as_responder.get(LIST, {"category": "live"})) == ["INC-1"]
    both = as_responder.get(LIST + "?category=live&category=triage")
    assert _listed_references(both) == ["INC-2", "INC-1"]


def test_list_filters_by_status(as_responder, acme, responder):
    _declare(acme, responder, "Investigating one")
    fixing = _declare(acme, responder, "Fixing one")
    incident_edit(incident=fixing, actor=Actor.for_user(responder), status=_status(acme, "Fixing"))
    response = as_responder.get(LIST, {"status": str(_status(acme, "Fixing").public_id)})
    assert response.status_code == 200
    assert _listed_references(response) == ["INC-2"]


def test_list_filters_by_severity(as_responder, acme, responder):
    _declare(acme, responder, "Small", severity=_severity(acme, "Minor"))
    _declare(acme, responder, "Big", severity=_severity(acme, "Critical"))
    _declare(acme, responder, "Unrated")
    response = as_responder.get(LIST, {"severity": str(_severity(acme, "Critical").public_id)})
    assert _listed_references(response) == ["INC-2"]


def test_list_filters_by_learning_flow(as_responder, acme, responder):
    _declare(acme, responder, "Not in the flow")
    learning = _declare(acme, responder, "Learning from this")
    Incident.objects.filter(pk=learning.pk).update(learning_flow=LearningFlowState.RUNNING)
    response = as_responder.get(LIST, {"learning_flow": LearningFlowState.RUNNING})
    assert _listed_references(response) == ["INC-2"]
    response = as_responder.get(LIST, {"learning_flow": LearningFlowState.NOT_ENTERED})
    assert _listed_references(response) == ["INC-1"]


def test_list_filters_by_person_in_a_role(as_responder, acme, responder, owner):
    # The reporter role goes to whoever declares; the lead is chosen.
    _declare(acme, owner, "Owner reported it")
    _declare(acme, owner, "Responder leads it", lead=responder)
    _declare(acme, responder, "Responder reported it")
    response = as_responder.get(LIST, {"assignee": responder.pk})
    assert _listed_references(response) == ["INC-3", "INC-2"]


def test_list_filters_by_person_lists_each_incident_once(as_responder, acme, responder):
    # Reporter and lead: two assignments of one person on one incident.
    _declare(acme, responder, "Both roles", lead=responder)
    response = as_responder.get(LIST, {"assignee": responder.pk})
    assert _listed_references(response) == ["INC-1"]


def test_list_searches_names(as_responder, acme, responder):
    _declare(acme, responder, "Checkout is down")
    _declare(acme, responder, "Search is slow")
    _declare(acme, responder, "Checkout timeouts")
    response = as_responder.get(LIST, {"q": "checkout"})
    assert _listed_references(response) == ["INC-3", "INC-1"]


@pytest.mark.parametrize("query", ["INC-3", "inc-3", "3", " INC-3 "])
def test_list_searches_references(as_responder, acme, responder, query):
    for name in ["Alpha", "Beta", "Gamma", "Delta"]:
        _declare(acme, responder, name)
    response = as_responder.get(LIST, {"q": query})
    assert _listed_references(response) == ["INC-3"]


def test_list_filters_combine(as_responder, acme, responder):
    _declare(acme, responder, "Checkout live")
    _declare(acme, responder, "Checkout triage", triage=True)
    response = as_responder.get(LIST, {"q": "checkout", "category": "triage"})
    assert _listed_references(response) == ["INC-2"]


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"category": "bogus"},
            "Select a valid choice. bogus is not one of the available choices.",
        ),
        (
            {"learning_flow": "sideways"},
            "Select a valid choice. sideways is not one of the available choices.",
        ),
        ({"after": "abc"}, "Enter a whole number."),
        ({"after": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"severity": "not-a-uuid"}, "Select a valid choice."),
    ],
)
def test_list_refuses_unknown_filter_values_with_a_message(
    as_responder, acme, responder, params, message
):
    _declare(acme, responder)
    response = as_responder.get(LIST, params)
    assert response.status_code == 400
    assert escape(message) in _text(response)
    assert response.context["page"].incidents == []


def test_list_refuses_a_status_of_another_org(as_responder, acme, responder, globex):
    _declare(acme, responder)
    foreign = IncidentStatus.objects.get(org=globex, name="Investigating")
    response = as_responder.get(LIST, {"status": str(foreign.public_id)})
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)
    assert response.context["page"].incidents == []


def test_list_refuses_a_severity_of_another_org(as_responder, acme, responder, globex):
    _declare(acme, responder)
    foreign = Severity.objects.get(org=globex, name="Major")
    response = as_responder.get(LIST, {"severity": str(foreign.public_id)})
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)


def test_list_refuses_a_person_outside_the_org(as_responder, acme, responder, outsider):
    _declare(acme, responder)
    response = as_responder.get(LIST, {"assignee": outsider.pk})
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)


def _next_link(response) -> str | None:
    match = re.search(r'href="([^"]*)" data-testid="next-page"', _text(response))
    return unescape(match.group(1)) if match else None


def test_list_pages_by_keyset_without_duplicates(as_responder, acme, responder):
    for i in range(30):
        _declare(acme, responder, f"Outage number {i + 1}")

    first = as_responder.get(LIST)
    assert first.status_code == 200
    page_one = _listed_references(first)
    assert len(page_one) == 25
    assert page_one[0] == "INC-30" and page_one[-1] == "INC-6"
    link = _next_link(first)
    assert link == "?after=6"

    second = as_responder.get(LIST + link)
    assert second.status_code == 200
    page_two = _listed_references(second)
    assert page_two == ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"]
    assert _next_link(second) is None
    assert not set(page_one) & set(page_two)
    assert len(set(page_one) | set(page_two)) == 30


def test_next_link_keeps_the_filters(as_responder, acme, responder):
    for i in range(27):
        _declare(acme, responder, f"Checkout failure {i + 1}")
    _declare(acme, responder, "Unrelated")
    first = as_responder.get(LIST, {"q": "checkout"})
    link = _next_link(first)
    assert link is not None and "q=checkout" in link and "after=3" in link
    second = as_responder.get(LIST + link)
    assert _listed_references(second) == ["INC-2", "INC-1"]


def _list_queries(client, django_assert_max_num_queries, bound=None):
    with django_assert_max_num_queries(bound or 30) as captured:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_list_query_count_does_not_grow_with_incidents(
    as_responder, acme, responder, django_assert_max_num_queries
):
    for i in range(5):
        _declare(acme, responder, f"Few {i}")
    few = _list_queries(as_responder, django_assert_max_num_queries)
    for i in range(55):
        _declare(acme, responder, f"Many {i}")
    _list_queries(as_responder, django_assert_max_num_queries, bound=few)


def test_list_query_count_does_not_grow_with_role_assignments(
    as_responder, acme, responder, owner, admin, django_assert_max_num_queries
):
    scribe = IncidentRole.objects.create(org=acme, name="Scribe", shortform="scribe", rank=5)

    def declare_with_roles(name):
        incident = _declare(acme, owner, name, lead=responder)
        incident_assign_role(
            incident=incident, actor=Actor.for_user(owner), role=scribe, user=admin
        )

    for i in range(5):
        declare_with_roles(f"Few {i}")
    few = _list_queries(as_responder, django_assert_max_num_queries)
    for i in range(55):
        declare_with_roles(f"Many {i}")
    response = as_responder.get(LIST)
    assert "Scribe" in _text(response)
    _list_queries(as_responder, django_assert_max_num_queries, bound=few)


# --- Declaring ------------------------------------------------------------------------


def test_declare_form_renders_for_responders(as_responder):
    response = as_responder.get(DECLARE)
    assert response.status_code == 200
    html = _text(response)
    assert 'name="name"' in html and 'name="severity"' in html and 'name="lead"' in html
    assert "Declare incident" in html


def test_declare_form_shows_its_fields_in_order_with_their_labels_and_help(as_responder):
    html = _text(as_responder.get(DECLARE))
    labels = ['<label for="id_name">Name</label>', '<label for="id_summary">Summary</label>',
              '<label for="id_severity">Severity</label>', '<label for="id_lead">Incident lead</label>',
              '<label for="id_triage">Start in triage (not yet confirmed)</label>']
    positions = [html.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "What is broken, in a few words." in html and "Markdown. What we know so far." in html
    # The triage box sits before its label, on one line with it.
    assert re.search(r'<div class="field checkbox"><input type="checkbox" name="triage" id="id_triage">'
                     r' <label for="id_triage">', html)


def test_declare_creates_the_incident_and_redirects_to_its_page(as_responder, acme, responder):
    major = _severity(acme, "Major")
    response = as_responder.post(
        DECLARE,
        {
            "name": "Payments failing",
            "summary": "Card *payments* fail",
            "severity": str(major.public_id),
            "lead": responder.pk,
        },
    )
    incident = Incident.objects.get(org=acme)
    assert response.status_code == 302
    assert response["Location"] == _url(incident)
    assert incident.name == "Payments failing" and incident.severity == major
    assert incident.status.category == StatusCategory.LIVE
    assert incident.role_assignments.get(role__kind=RoleKind.LEAD).user == responder

    page = as_responder.get(response["Location"])
    assert page.status_code == 200
    assert "Payments failing" in _text(page) and "<em>payments</em>" in _text(page)


def test_declare_into_triage(as_responder, acme):
    response = as_responder.post(DECLARE, {"name": "Something odd", "triage": "on"})
    assert response.status_code == 302
    assert Incident.objects.get(org=acme).status.category == StatusCategory.TRIAGE


def test_declare_with_a_blank_name_is_a_form_error(as_responder, acme):
    response = as_responder.post(DECLARE, {"name": "   ", "summary": "x"})
    assert response.status_code == 400
    assert "This field is required." in _text(response)
    assert not Incident.objects.filter(org=acme).exists()


def test_declare_with_another_orgs_severity_is_a_form_error(as_responder, acme, globex):
    foreign = Severity.objects.get(org=globex, name="Critical")
    response = as_responder.post(
        DECLARE, {"name": "Payments failing", "severity": str(foreign.public_id)}
    )
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)
    assert not Incident.objects.exists()


def test_declare_lead_must_be_a_member(as_responder, acme, outsider):
    response = as_responder.post(DECLARE, {"name": "Payments failing", "lead": outsider.pk})
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)
    assert not Incident.objects.exists()


def test_declared_incidents_get_consecutive_references(as_responder, acme):
    for name in ["One", "Two"]:
        assert as_responder.post(DECLARE, {"name": name}).status_code == 302
    assert sorted(Incident.objects.filter(org=acme).values_list("number", flat=True)) == [1, 2]


# --- The incident page ----------------------------------------------------------------


def test_incident_page_shows_everything_about_the_incident(as_responder, acme, responder, owner):
    actor = Actor.for_user(owner)
    incident = _declare(
        acme, owner, "Checkout is down", severity=_severity(acme, "Major"), lead=responder
    )
    incident_post_update(incident=incident, actor=actor, message="Rolled back the deploy")
    follow_ups.follow_up_create(
        incident=incident, actor=actor, title="Add a canary", assignee=responder
    )
    documents.debrief_schedule(
        incident=incident,
        actor=actor,
        scheduled_at=datetime(2031, 3, 4, 15, 0, tzinfo=UTC),
        location="Room 101",
        attendees=[responder],
    )
    documents.postmortem_create(incident=incident, actor=actor)

    response = as_responder.get(_url(incident))
    assert response.status_code == 200
    html = _text(response)
    title = html[html.index('data-testid="incident-title"') : html.index("</h1>")]
    assert "INC-1" in title and "Checkout is down" in title
    badges = html[
        html.index('data-testid="incident-badges"') : html.index("</div>", html.index("role-chip"))
    ]
    assert "Investigating" in badges and "Major" in badges
    assert "Incident Lead" in badges and escape(responder.display_name) in badges
    timeline = _timeline_section(response)
    assert "INC-1 declared" in timeline and "Rolled back the deploy" in timeline
    assert "Follow-up created: Add a canary" in timeline and "Post-mortem created" in timeline
    follow_up_list = html[html.index('data-testid="follow-ups"') :]
    assert "Add a canary" in follow_up_list
    assert "Room 101" in html and "Tue 4 Mar 2031, 15:00 UTC" in html
    debrief = Debrief.objects.get(incident=incident)
    assert _url(incident, f"debriefs/{debrief.public_id}.ics") in html
    assert f'href="{_url(incident, "postmortem/")}"' in html


def test_incident_page_offers_to_write_a_postmortem_when_there_is_none(
    as_responder, acme, responder
):
    incident = _declare(acme, responder)
    html = _text(as_responder.get(_url(incident)))
    assert f'action="{_url(incident, "postmortem/create/")}"' in html


def _fill_incident(incident, user, *, events, follow_up_count, debrief_count):
    actor = Actor.for_user(user)
    documents.postmortem_create(incident=incident, actor=actor)
    for i in range(follow_up_count):
        follow_ups.follow_up_create(
            incident=incident, actor=actor, title=f"Follow-up {i}", assignee=user
        )
    for i in range(debrief_count):
        documents.debrief_schedule(
            incident=incident,
            actor=actor,
            attendees=[user],
            scheduled_at=timezone.now() + timedelta(days=i + 1),
        )
    missing = events - incident.timeline.count()
    assert missing >= 0
    for i in range(missing):
        incident_post_update(incident=incident, actor=actor, message=f"Update **{i}**")
    assert incident.timeline.count() == events


def test_incident_page_query_count_does_not_grow(
    as_responder, acme, responder, owner, django_assert_max_num_queries
):
    small = _declare(acme, owner, "Small", lead=responder)
    _fill_incident(small, responder, events=5, follow_up_count=1, debrief_count=1)
    big = _declare(acme, owner, "Big", lead=responder)
    _fill_incident(big, owner, events=100, follow_up_count=20, debrief_count=5)

    with django_assert_max_num_queries(40) as few:
        assert as_responder.get(_url(small)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_responder.get(_url(big))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<li class="event') == TIMELINE_PAGE_EVENTS  # the newest; the page links to the rest
    assert f"Show {100 - TIMELINE_PAGE_EVENTS} earlier events</a>" in html
    assert len(response.context["follow_ups"]) == 20
    assert len(response.context["debriefs"]) == 5
    with django_assert_max_num_queries(len(few.captured_queries)):
        everything = as_responder.get(_url(big) + "?timeline=all")
    assert everything.content.decode().count('<li class="event') == 100


# --- Actions --------------------------------------------------------------------------


def test_change_status_and_severity(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(
        _url(incident, "edit/"),
        {
            "status": str(_status(acme, "Fixing").public_id),
            "severity": str(_severity(acme, "Critical").public_id),
        },
    )
    page = _follow(as_responder, response)
    incident = _reload(incident)
    assert incident.status.name == "Fixing" and incident.severity.name == "Critical"
    assert incident.identified_at is not None  # Fixing marks "identified" the first time
    timeline = _timeline_section(page)
    assert "Status changed from Investigating to Fixing" in timeline
    assert "Severity changed from none to Critical" in timeline
    assert "Incident updated." in _text(page)


def test_change_status_to_a_status_of_another_org_is_refused(as_responder, acme, responder, globex):
    incident = _declare(acme, responder)
    foreign = IncidentStatus.objects.get(org=globex, name="Fixing")
    response = as_responder.post(_url(incident, "edit/"), {"status": str(foreign.public_id)})
    response = _refused(as_responder, response)
    assert "Select a valid choice." in _text(response)
    assert _reload(incident).status.name == "Investigating"


def test_edit_name_and_summary(as_responder, acme, responder):
    incident = _declare(acme, responder, "Old name")
    response = as_responder.post(
        _url(incident, "details/"), {"name": "New name", "summary": "Card *payments* fail"}
    )
    page = _follow(as_responder, response)
    incident = _reload(incident)
    assert incident.name == "New name" and incident.summary == "Card *payments* fail"
    html = _text(page)
    summary = html[html.index('data-testid="summary"') :]
    assert "<em>payments</em>" in summary
    assert "Renamed from “Old name” to “New name”" in _timeline_section(page)
    assert "Details saved." in html
    assert "<summary>Edit details</summary>" in html


def test_edit_with_a_blank_name_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder, "Old name")
    response = as_responder.post(_url(incident, "details/"), {"name": "", "summary": ""})
    response = _refused(as_responder, response)
    assert "This field is required." in _text(response)
    assert _reload(incident).name == "Old name"


def test_assign_a_role(as_responder, acme, responder, admin):
    incident = _declare(acme, responder)
    lead = _role(acme, RoleKind.LEAD)
    page = _follow(
        as_responder,
        as_responder.post(
            _url(incident, "roles/"), {"role": str(lead.public_id), "user": admin.pk}
        ),
    )
    assert incident.role_assignments.get(role=lead).user == admin
    assert f"{escape(admin.display_name)} is now Incident Lead" in _timeline_section(page)

    # Choosing nobody takes the role away.
    page = _follow(
        as_responder,
        as_responder.post(_url(incident, "roles/"), {"role": str(lead.public_id), "user": ""}),
    )
    assert not incident.role_assignments.filter(role=lead).exists()
    assert f"{escape(admin.display_name)} is no longer Incident Lead" in _timeline_section(page)


def test_assign_a_role_to_someone_outside_the_org_is_refused(
    as_responder, acme, responder, outsider
):
    incident = _declare(acme, responder)
    lead = _role(acme, RoleKind.LEAD)
    response = as_responder.post(
        _url(incident, "roles/"), {"role": str(lead.public_id), "user": outsider.pk}
    )
    response = _refused(as_responder, response)
    assert not incident.role_assignments.filter(role=lead).exists()


def test_post_an_update_renders_markdown_and_shows_scripts_as_text(as_responder, acme, responder):
    incident = _declare(acme, responder)
    message = (
        "**Rolled back** the deploy\n\n<script>alert('update')</script>\n\n[x](javascript:alert(1))"
    )
    page = _follow(
        as_responder, as_responder.post(_url(incident, "updates/"), {"message": message})
    )
    html = _text(page)
    timeline = _timeline_section(page)
    assert "<strong>Rolled back</strong> the deploy" in timeline
    assert "<script>alert('update')" not in html
    # Raw HTML is shown as the text it is, and a javascript: link stays text.
    assert "&lt;script&gt;alert('update')&lt;/script&gt;" in timeline
    assert "<p>[x](javascript:alert(1))</p>" in timeline
    assert not re.search(r"href=\"\s*javascript", html, re.I)
    assert TimelineEvent.objects.filter(incident=incident, text=message).exists()


def test_a_script_in_the_summary_is_not_in_the_page(as_responder, acme, responder):
    incident = _declare(acme, responder)
    summary = "Fine *so far*<script>alert('summary')</script><img src=x onerror=alert(2)>"
    page = _follow(
        as_responder,
        as_responder.post(_url(incident, "details/"), {"name": "Named", "summary": summary}),
    )
    html = _text(page)
    assert "<em>so far</em>" in html
    assert "<script>alert('summary')" not in html
    assert not re.search(r"<img[^>]*onerror", html)
    # The edit form (fetched when opened) shows the raw text, escaped.
    form = as_responder.get(_url(incident, "forms/details/"), HTTP_X_FRAGMENT="form").content.decode()
    assert "&lt;script&gt;alert(&#x27;summary&#x27;)" in form and "<script>" not in form


def test_post_an_empty_update_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    before = incident.timeline.count()
    response = as_responder.post(_url(incident, "updates/"), {"message": ""})
    response = _refused(as_responder, response)
    assert incident.timeline.count() == before


def test_correct_timestamps(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(
        _url(incident, "timestamps/"),
        {
            "reported_at": "2024-05-01T10:00",
            "accepted_at": "2024-05-01T10:05",
            "impact_started_at": "2024-05-01T09:30",
        },
    )
    page = _follow(as_responder, response)
    incident = _reload(incident)
    assert incident.reported_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert incident.impact_started_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert "Impact started: 2024-05-01 09:30 UTC" in _timeline_section(page)
    assert "1 May 2024, 09:30 UTC" in _text(page)


def test_timestamps_need_a_reported_time(as_responder, acme, responder):
    incident = _declare(acme, responder)
    reported = incident.reported_at
    response = as_responder.post(_url(incident, "timestamps/"), {"reported_at": ""})
    response = _refused(as_responder, response)
    assert _reload(incident).reported_at == reported


def test_accept_from_triage(as_responder, acme, responder):
    incident = _declare(acme, responder, triage=True)
    page = _follow(as_responder, as_responder.post(_url(incident, "accept/")))
    incident = _reload(incident)
    assert incident.status.category == StatusCategory.LIVE and incident.accepted_at is not None
    assert "Status changed from Triage to Investigating" in _timeline_section(page)


def test_decline_from_triage(as_responder, acme, responder):
    incident = _declare(acme, responder, triage=True)
    page = _follow(
        as_responder, as_responder.post(_url(incident, "decline/"), {"reason": "A planned test"})
    )
    assert _reload(incident).status.category == StatusCategory.DECLINED
    assert "A planned test" in _timeline_section(page)


def test_decline_needs_a_reason(as_responder, acme, responder):
    incident = _declare(acme, responder, triage=True)
    response = as_responder.post(_url(incident, "decline/"), {"reason": ""})
    response = _refused(as_responder, response)
    assert _reload(incident).status.category == StatusCategory.TRIAGE


def test_merge_from_triage(as_responder, acme, responder):
    target = _declare(acme, responder, "The real one")
    incident = _declare(acme, responder, "Duplicate report", triage=True)
    page = _follow(as_responder, as_responder.post(_url(incident, "merge/"), {"into": "INC-1"}))
    incident = _reload(incident)
    assert incident.status.category == StatusCategory.MERGED and incident.merged_into == target
    assert "Merged into INC-1 The real one" in _timeline_section(page)
    assert f'href="{_url(target)}"' in _text(page)


def test_merge_into_an_unknown_reference_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder, triage=True)
    response = as_responder.post(_url(incident, "merge/"), {"into": "INC-99"})
    response = _refused(as_responder, response)
    assert "No incident INC-99 in Acme Inc." in _text(response)
    assert _reload(incident).status.category == StatusCategory.TRIAGE


def test_accept_a_live_incident_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(_url(incident, "accept/"))
    response = _refused(as_responder, response)
    assert "INC-1 is not in triage." in _text(response)


def test_cancel(as_responder, acme, responder):
    incident = _declare(acme, responder)
    page = _follow(
        as_responder,
        as_responder.post(_url(incident, "cancel/"), {"reason": "Declared by mistake"}),
    )
    assert _reload(incident).status.category == StatusCategory.CANCELED
    assert (
        "Status changed from Investigating to Canceled: Declared by mistake"
        in _timeline_section(page)
    )


def test_close_without_the_learning_flow(as_responder, acme, responder):
    incident = _declare(acme, responder)
    page = _follow(
        as_responder,
        as_responder.post(
            _url(incident, "close/"),
            {"learning_flow": "opt_out", "opt_out_reason": "A two-minute blip"},
        ),
    )
    incident = _reload(incident)
    assert incident.status.category == StatusCategory.CLOSED
    assert incident.closed_at is not None and incident.resolved_at is not None
    timeline = _timeline_section(page)
    assert "Incident closed" in timeline and "A two-minute blip" in timeline


def test_close_into_the_learning_flow(as_responder, acme, responder):
    incident = _declare(acme, responder)
    page = _follow(
        as_responder, as_responder.post(_url(incident, "close/"), {"learning_flow": "run"})
    )
    incident = _reload(incident)
    assert incident.status.category == StatusCategory.LEARNING
    assert incident.learning_flow == LearningFlowState.RUNNING
    assert "Incident closed" in _timeline_section(page)


def test_close_without_a_reason_to_skip_the_flow_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    events = incident.timeline.count()
    response = as_responder.post(
        _url(incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": " "}
    )
    response = _refused(as_responder, response)
    assert "Say why the learning flow is skipped" in _text(response)
    assert _reload(incident).status.category == StatusCategory.LIVE
    assert incident.timeline.count() == events


def test_postmortem_create_opens_the_editor(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(_url(incident, "postmortem/create/"))
    assert response.status_code == 302 and response["Location"] == _url(incident, "postmortem/")
    page = as_responder.get(response["Location"])
    assert page.status_code == 200
    html = _text(page)
    assert "<h2>Summary</h2>" in html and "Draft" in html
    assert Postmortem.objects.filter(incident=incident).exists()


def test_postmortem_create_twice_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    documents.postmortem_create(incident=incident, actor=Actor.for_user(responder))
    response = as_responder.post(_url(incident, "postmortem/create/"))
    response = _refused(as_responder, response)
    assert "INC-1 already has a post-mortem." in _text(response)


def test_postmortem_save_content(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(
        _url(incident, "postmortem/"),
        {"content": "# What happened\n\nA *bad* deploy", "action": "save"},
    )
    page = _follow(as_responder, response)
    assert Postmortem.objects.get(incident=incident).content == "# What happened\n\nA *bad* deploy"
    assert "<h1>What happened</h1>" in _text(page) and "<em>bad</em>" in _text(page)

    # Saving again edits the same document.
    _follow(
        as_responder,
        as_responder.post(_url(incident, "postmortem/"), {"content": "Second", "action": "save"}),
    )
    assert Postmortem.objects.get(incident=incident).content == "Second"


def test_postmortem_preview_renders_without_saving(as_responder, acme, responder):
    incident = _declare(acme, responder)
    documents.postmortem_create(
        incident=incident, actor=Actor.for_user(responder), content="Saved text"
    )
    response = as_responder.post(
        _url(incident, "postmortem/"),
        {"content": "## Draft heading\n\n<script>alert('pm')</script>", "action": "preview"},
    )
    assert response.status_code == 200
    html = _text(response)
    preview = html[html.index('data-testid="postmortem-preview"') :]
    assert "<h2>Draft heading</h2>" in preview
    assert "<script>alert('pm')" not in html
    assert "Preview of unsaved changes." in html
    assert Postmortem.objects.get(incident=incident).content == "Saved text"


def test_postmortem_set_status(as_responder, acme, responder):
    incident = _declare(acme, responder)
    documents.postmortem_create(incident=incident, actor=Actor.for_user(responder))
    response = as_responder.post(
        _url(incident, "postmortem/status/"), {"status": PostmortemStatus.IN_REVIEW}
    )
    assert response["Location"] == _url(incident, "postmortem/")
    page = _follow(as_responder, response)
    assert Postmortem.objects.get(incident=incident).status == PostmortemStatus.IN_REVIEW
    assert "In review" in _text(page)
    assert "Post-mortem marked in review" in _timeline_section(as_responder.get(_url(incident)))


def test_postmortem_set_unknown_status_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    documents.postmortem_create(incident=incident, actor=Actor.for_user(responder))
    response = as_responder.post(_url(incident, "postmortem/status/"), {"status": "published"})
    response = _refused(as_responder, response)
    assert Postmortem.objects.get(incident=incident).status == PostmortemStatus.DRAFT


def test_postmortem_status_without_a_postmortem_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(
        _url(incident, "postmortem/status/"), {"status": PostmortemStatus.COMPLETED}
    )
    response = _refused(as_responder, response)
    assert "INC-1 has no post-mortem yet; write one first." in _text(response)


def test_postmortem_share(as_responder, acme, responder):
    incident = _declare(acme, responder)
    documents.postmortem_create(incident=incident, actor=Actor.for_user(responder))
    page = _follow(as_responder, as_responder.post(_url(incident, "postmortem/share/")))
    assert Postmortem.objects.get(incident=incident).is_shared
    assert "Shared" in _text(page)
    assert "Post-mortem shared" in _timeline_section(as_responder.get(_url(incident)))


def test_debrief_schedule_and_invite(as_responder, acme, responder, owner):
    incident = _declare(acme, responder, "Checkout is down")
    response = as_responder.post(
        _url(incident, "debriefs/"),
        {
            "scheduled_at": "2031-03-04T15:00",
            "duration_minutes": "45",
            "location": "Room 101",
            "attendees": [responder.pk, owner.pk],
        },
    )
    page = _follow(as_responder, response)
    debrief = Debrief.objects.get(incident=incident)
    assert debrief.scheduled_at == datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
    assert set(debrief.attendees.all()) == {responder, owner}
    assert "Debrief scheduled for Tue 04 Mar 2031 15:00 UTC" in _timeline_section(page)

    invite = as_responder.get(_url(incident, f"debriefs/{debrief.public_id}.ics"))
    assert invite.status_code == 200
    assert invite["Content-Type"].startswith("text/calendar")
    assert invite["Content-Disposition"] == 'attachment; filename="INC-1-debrief.ics"'
    body = invite.content.decode().replace("\r\n ", "")  # unfold long lines
    assert body.startswith("BEGIN:VCALENDAR")
    assert "SUMMARY:Debrief: INC-1 Checkout is down" in body
    assert "DTSTART:20310304T150000Z" in body and "DTEND:20310304T154500Z" in body
    assert "mailto:responder@acme.test" in body and "mailto:owner@acme.test" in body


def test_debrief_with_someone_outside_the_org_is_refused(as_responder, acme, responder, outsider):
    incident = _declare(acme, responder)
    response = as_responder.post(
        _url(incident, "debriefs/"),
        {"scheduled_at": "2031-03-04T15:00", "duration_minutes": "45", "attendees": [outsider.pk]},
    )
    response = _refused(as_responder, response)
    assert not Debrief.objects.exists()


def test_follow_up_create_edit_complete_and_not_doing(as_responder, acme, responder, owner):
    incident = _declare(acme, responder)
    page = _follow(
        as_responder,
        as_responder.post(
            _url(incident, "follow-ups/"),
            {
                "title": "Add a canary",
                "description": "Before deploys",
                "assignee": responder.pk,
                "priority": "high",
            },
        ),
    )
    follow_up = FollowUp.objects.get(incident=incident)
    assert (follow_up.title, follow_up.assignee, follow_up.priority) == (
        "Add a canary",
        responder,
        "high",
    )
    assert "Add a canary" in _text(page)[_text(page).index('data-testid="follow-ups"') :]
    assert "Follow-up created: Add a canary" in _timeline_section(page)

    page = _follow(
        as_responder,
        as_responder.post(
            _url(incident, f"follow-ups/{follow_up.public_id}/"),
            {
                "title": "Add a canary stage",
                "description": "",
                "assignee": owner.pk,
                "priority": "urgent",
            },
        ),
    )
    follow_up.refresh_from_db()
    assert (follow_up.title, follow_up.assignee, follow_up.priority) == (
        "Add a canary stage",
        owner,
        "urgent",
    )
    assert "Follow-up “Add a canary stage” updated" in _timeline_section(page)

    page = _follow(
        as_responder,
        as_responder.post(_url(incident, f"follow-ups/{follow_up.public_id}/complete/")),
    )
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpStatus.COMPLETED
    assert "Follow-up completed: Add a canary stage" in _timeline_section(page)

    other = follow_ups.follow_up_create(
        incident=incident, actor=Actor.for_user(responder), title="Rewrite it all"
    )
    page = _follow(
        as_responder,
        as_responder.post(
            _url(incident, f"follow-ups/{other.public_id}/not-doing/"), {"reason": "Too big"}
        ),
    )
    other.refresh_from_db()
    assert other.status == FollowUpStatus.NOT_DOING and other.not_doing_reason == "Too big"
    assert "Follow-up marked not doing: Rewrite it all — Too big" in _timeline_section(page)


def test_follow_up_without_a_title_is_refused(as_responder, acme, responder):
    incident = _declare(acme, responder)
    response = as_responder.post(_url(incident, "follow-ups/"), {"title": "", "priority": "high"})
    response = _refused(as_responder, response)
    assert error_next_to(_text(response), "id_title") == "This field is required."
    assert 'id="form-follow-up"' in _text(response)  # the form is on the page, open, its error at the field
    assert not FollowUp.objects.exists()


def test_follow_up_of_another_incident_is_not_found(as_responder, acme, responder):
    incident = _declare(acme, responder, "One")
    other = _declare(acme, responder, "Two")
    follow_up = follow_ups.follow_up_create(
        incident=other, actor=Actor.for_user(responder), title="Theirs"
    )
    response = as_responder.post(_url(incident, f"follow-ups/{follow_up.public_id}/complete/"))
    assert response.status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpStatus.OUTSTANDING


def test_debrief_invite_of_another_incident_is_not_found(as_responder, acme, responder):
    incident = _declare(acme, responder, "One")
    other = _declare(acme, responder, "Two")
    debrief = documents.debrief_schedule(
        incident=other,
        actor=Actor.for_user(responder),
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    assert as_responder.get(_url(incident, f"debriefs/{debrief.public_id}.ics")).status_code == 404


# --- Invalid transitions --------------------------------------------------------------


@pytest.fixture
def closed_incident(acme, responder):
    incident = _declare(acme, responder, severity=_severity(acme, "Minor"))
    return incident_close(
        incident=incident,
        actor=Actor.for_user(responder),
        learning_flow="opt_out",
        opt_out_reason="Over before anyone noticed",
    )


def test_changing_the_live_status_of_a_closed_incident_is_refused(
    as_responder, acme, closed_incident
):
    events = TimelineEvent.objects.filter(incident=closed_incident).count()
    response = as_responder.post(
        _url(closed_incident, "edit/"),
        {
            "status": str(_status(acme, "Fixing").public_id),
            "severity": str(_severity(acme, "Critical").public_id),
        },
    )
    response = _refused(as_responder, response)
    assert "INC-1 is closed; its live status cannot change." in _text(response)
    assert 'data-testid="action-error"' in _text(response)
    incident = _reload(closed_incident)
    assert incident.status.category == StatusCategory.CLOSED and incident.severity.name == "Minor"
    assert TimelineEvent.objects.filter(incident=closed_incident).count() == events


def test_closing_a_closed_incident_is_refused(as_responder, closed_incident):
    events = TimelineEvent.objects.filter(incident=closed_incident).count()
    closed_at = closed_incident.closed_at
    response = as_responder.post(
        _url(closed_incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": "Again"}
    )
    response = _refused(as_responder, response)
    assert "INC-1 is closed, not live; it cannot be closed." in _text(response)
    incident = _reload(closed_incident)
    assert incident.status.category == StatusCategory.CLOSED and incident.closed_at == closed_at
    assert TimelineEvent.objects.filter(incident=closed_incident).count() == events


def test_canceling_a_closed_incident_is_refused(as_responder, closed_incident):
    response = as_responder.post(_url(closed_incident, "cancel/"), {"reason": "Oops"})
    response = _refused(as_responder, response)
    assert "INC-1 can no longer be canceled." in _text(response)
    assert _reload(closed_incident).status.category == StatusCategory.CLOSED
