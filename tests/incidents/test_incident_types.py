"""Incident types in the dashboard: Settings → Incident types, declaring with a
type, changing it on the incident page, and the list showing it.

Every org starts with one type, "Default"; while it has only that one, the
declare form and the incident page offer nothing to choose.
"""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import EventKind, Incident, IncidentType, TimelineEvent
from incidentio.incidents.services import configuration
from incidentio.incidents.services.incidents import incident_declare, incident_type_change

pytestmark = pytest.mark.django_db

TYPES = "/acme/settings/incident-types/"
DECLARE = "/acme/incidents/declare/"
LIST = "/acme/incidents/"


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


@pytest.fixture
def security(acme):
    return configuration.incident_type_create(org=acme, name="Security", description="Breaches and leaks.")


def _type(org, name) -> IncidentType:
    return IncidentType.objects.get(org=org, name=name)


def _names(org) -> list[str]:
    return list(IncidentType.objects.filter(org=org).order_by("rank", "pk").values_list("name", flat=True))


def _default(org) -> str:
    return IncidentType.objects.get(org=org, is_default=True).name


def _declare(org, user, name="Checkout is down", **kwargs) -> Incident:
    return incident_declare(org=org, actor=Actor.for_user(user), name=name, **kwargs)


def _post(client, action, obj=None, **data):
    if obj is not None:
        data["id"] = obj.public_id
    return client.post(TYPES, {"action": action, **data})


def _text(response) -> str:
    return response.content.decode()


# --- Settings → Incident types ---------------------------------------------------------


def test_the_page_says_what_types_are_for_and_where_their_flows_are_set(as_admin):
    response = as_admin.get(TYPES)
    assert response.status_code == 200
    html = _text(response)
    assert "Security</strong>: its own learning flow, always runs the flow" in html
    assert "Settings → Learning flow" in html and 'href="/acme/settings/learning/"' in html
    assert [row.obj.name for row in response.context["rows"]] == ["Default"]
    assert 'data-testid="default-badge"' in html


def test_admin_adds_renames_and_describes_a_type(as_admin, acme):
    response = _post(as_admin, "create", name=" Security ", description="Breaches.")
    assert response.status_code == 302
    security = _type(acme, "Security")
    assert (security.description, security.is_default) == ("Breaches.", False)
    assert _names(acme) == ["Default", "Security"]

    response = as_admin.post(TYPES, {"action": "update", "id": security.public_id, "name": "Security incident",
                                     "description": ""}, follow=True)
    assert "Incident type “Security incident” saved." in _text(response)
    security.refresh_from_db()
    assert (security.name, security.description) == ("Security incident", "")


@pytest.mark.parametrize("name", ["default", "DEFAULT", " Default "])
def test_a_type_name_taken_in_any_case_is_a_clear_error(as_admin, acme, name):
    response = _post(as_admin, "create", name=name)
    assert response.status_code == 400
    assert f"There is already a type called “{name.strip()}”." in _text(response)
    assert _names(acme) == ["Default"]


def test_renaming_to_a_taken_name_is_refused(as_admin, acme, security):
    response = _post(as_admin, "update", security, name="default")
    assert response.status_code == 400
    assert "already" in _text(response)
    assert _names(acme) == ["Default", "Security"]


def test_admin_reorders_types(as_admin, acme, security):
    configuration.incident_type_create(org=acme, name="Data loss")
    assert _post(as_admin, "move", _type(acme, "Data loss"), direction="up").status_code == 302
    assert _names(acme) == ["Default", "Data loss", "Security"]
    assert _post(as_admin, "move", _type(acme, "Default"), direction="down").status_code == 302
    assert _names(acme) == ["Data loss", "Default", "Security"]


def test_making_another_type_the_default_switches_it_at_once(as_admin, acme, security, responder):
    response = as_admin.post(TYPES, {"action": "make_default", "id": security.public_id}, follow=True)
    assert "“Security” is now the default type." in _text(response)
    assert list(IncidentType.objects.filter(org=acme, is_default=True).values_list("name", flat=True)) == ["Security"]
    # New incidents declared without a type get the new default.
    assert _declare(acme, responder).incident_type == security
    # Making the default the default again changes nothing.
    assert _post(as_admin, "make_default", security).status_code == 302
    assert _default(acme) == "Security"


def test_the_default_type_cannot_be_deleted(as_admin, acme, security):
    response = _post(as_admin, "delete", _type(acme, "Default"))
    assert response.status_code == 400
    assert "Default is the default type and cannot be deleted" in _text(response)
    assert _names(acme) == ["Default", "Security"]


def test_a_type_incidents_have_cannot_be_deleted(as_admin, acme, security, responder):
    _declare(acme, responder, incident_type=security)
    response = _post(as_admin, "delete", security)
    assert response.status_code == 400
    assert "Security is the type of 1 incident(s) and cannot be deleted" in _text(response)
    assert _names(acme) == ["Default", "Security"]


def test_an_unused_type_is_deleted(as_admin, acme, security):
    response = as_admin.post(TYPES, {"action": "delete", "id": security.public_id}, follow=True)
    assert "Incident type “Security” deleted." in _text(response)
    assert _names(acme) == ["Default"]


def test_another_orgs_type_through_my_page_is_404_and_changes_nothing(as_admin, acme, globex):
    theirs = configuration.incident_type_create(org=globex, name="Theirs")
    responses = [
        _post(as_admin, "update", theirs, name="Pwned"),
        _post(as_admin, "move", theirs, direction="up"),
        _post(as_admin, "make_default", theirs),
        _post(as_admin, "delete", theirs),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    assert _names(globex) == ["Default", "Theirs"] and _default(globex) == "Default"


@pytest.mark.parametrize("role_user", ["responder", "viewer"])
def test_only_admins_change_types(role_user, request, acme, signed_in, security):
    client = signed_in(request.getfixturevalue(role_user), acme)
    assert client.get(TYPES).status_code == 403
    assert _post(client, "make_default", security).status_code == 403
    assert _post(client, "delete", security).status_code == 403
    assert _default(acme) == "Default" and _names(acme) == ["Default", "Security"]


def test_types_page_query_count_does_not_grow(as_admin, acme, admin, django_assert_max_num_queries):
    with django_assert_max_num_queries(10) as few:
        as_admin.get(TYPES)
    for n in range(10):
        _declare(acme, admin, f"Incident {n}", incident_type=configuration.incident_type_create(org=acme, name=f"T{n}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_admin.get(TYPES).status_code == 200


# --- Declaring ---------------------------------------------------------------------------


def test_with_one_type_the_declare_form_offers_no_type(as_responder, acme):
    response = as_responder.get(DECLARE)
    assert 'name="incident_type"' not in _text(response)
    assert as_responder.post(DECLARE, {"name": "Checkout is down"}).status_code == 302
    assert Incident.objects.get(org=acme).incident_type.name == "Default"


def test_the_declare_form_offers_the_types_on_the_default(as_responder, acme, security):
    html = _text(as_responder.get(DECLARE))
    default = _type(acme, "Default")
    assert f'<option value="{default.public_id}" selected>Default</option>' in html
    assert f'<option value="{security.public_id}">Security</option>' in html
    assert "Security: Breaches and leaks." in html


def test_declaring_with_a_type_gives_the_incident_that_type(as_responder, acme, security):
    response = as_responder.post(DECLARE, {"name": "Leaked keys", "incident_type": str(security.public_id)})
    assert response.status_code == 302
    incident = Incident.objects.get(org=acme)
    assert incident.incident_type == security
    assert 'data-testid="incident-type">Security<' in _text(as_responder.get(response["Location"]))


def test_declaring_with_another_orgs_type_is_refused(as_responder, acme, globex, security):
    theirs = configuration.incident_type_create(org=globex, name="Theirs")
    response = as_responder.post(DECLARE, {"name": "Leaked keys", "incident_type": str(theirs.public_id)})
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)
    assert not Incident.objects.exists()


# --- Changing the type --------------------------------------------------------------------


def _edit(client, incident, **data):
    return client.post(f"/acme/incidents/{incident.public_id}/edit/", data)


def test_changing_the_type_on_the_incident_page_writes_the_timeline(as_responder, acme, responder, security):
    incident = _declare(acme, responder)
    page = _text(as_responder.get(f"/acme/incidents/{incident.public_id}/"))
    assert 'name="incident_type"' in page
    response = _edit(as_responder, incident, incident_type=str(security.public_id))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.incident_type == security
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.TYPE_CHANGED)
    assert event.text == "Type changed from Default to Security"
    page = _text(as_responder.get(f"/acme/incidents/{incident.public_id}/"))
    assert "Type changed from Default to Security" in page


def test_saving_the_same_type_writes_nothing(as_responder, acme, responder, security):
    incident = _declare(acme, responder, incident_type=security)
    assert _edit(as_responder, incident, incident_type=str(security.public_id)).status_code == 302
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.TYPE_CHANGED).exists()


def test_another_orgs_type_on_the_incident_page_changes_nothing(as_responder, acme, globex, responder, security):
    incident = _declare(acme, responder)
    theirs = configuration.incident_type_create(org=globex, name="Theirs")
    response = _edit(as_responder, incident, incident_type=str(theirs.public_id))
    assert response.status_code == 303  # refused: back to the page, which says why
    incident.refresh_from_db()
    assert incident.incident_type.name == "Default"
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.TYPE_CHANGED).exists()


def test_with_one_type_the_incident_page_offers_no_type(as_responder, acme, responder):
    incident = _declare(acme, responder)
    page = _text(as_responder.get(f"/acme/incidents/{incident.public_id}/"))
    assert 'name="incident_type"' not in page and 'data-testid="incident-type"' not in page


def test_the_service_refuses_another_orgs_type(acme, globex, responder):
    incident = _declare(acme, responder)
    theirs = configuration.incident_type_create(org=globex, name="Theirs")
    with pytest.raises(ServiceError) as refused:
        incident_type_change(incident=incident, actor=Actor.for_user(responder), incident_type=theirs)
    assert refused.value.field == "incident_type"
    incident.refresh_from_db()
    assert incident.incident_type.name == "Default"


# --- The list ------------------------------------------------------------------------------


def test_the_list_shows_each_incidents_type_when_there_are_several(as_responder, acme, responder):
    _declare(acme, responder, "Slow")
    assert 'data-testid="incident-type"' not in _text(as_responder.get(LIST))
    security = configuration.incident_type_create(org=acme, name="Security")
    _declare(acme, responder, "Leak", incident_type=security)
    html = _text(as_responder.get(LIST))
    assert html.count('data-testid="incident-type">Security<') == 1
    assert html.count('data-testid="incident-type">Default<') == 1


def test_the_list_query_count_does_not_grow_with_types(
    as_responder, acme, responder, django_assert_max_num_queries
):
    _declare(acme, responder, "First")
    with django_assert_max_num_queries(30) as few:
        as_responder.get(LIST)
    for n in range(5):
        _declare(acme, responder, f"Incident {n}", incident_type=configuration.incident_type_create(org=acme, name=f"T{n}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_responder.get(LIST).status_code == 200
