"""Settings → Statuses, Severities, Roles, Incident types: admins shape the incident lifecycle.

Every page: GET shows it, a POST with an ``action`` changes one thing and
redirects; refused input comes back as a 400 with the error on the page and
nothing changed. Responders and viewers get 403; other orgs' ids are 404.
"""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    Incident,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    RoleKind,
    Severity,
    StatusCategory,
)
from incidentio.incidents.services import configuration
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db

STATUSES = "/acme/settings/statuses/"
SEVERITIES = "/acme/settings/severities/"
ROLES = "/acme/settings/roles/"
INCIDENT_TYPES = "/acme/settings/incident-types/"
PAGES = [STATUSES, SEVERITIES, ROLES, INCIDENT_TYPES]


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


def _post(client, page, action, obj=None, **data):
    """POST one ``action`` to a settings page; ``obj`` goes as its public id."""
    if obj is not None:
        data["id"] = obj.public_id
    return client.post(page, {"action": action, **data})


def _status(org, name) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def _severity(org, name) -> Severity:
    return Severity.objects.get(org=org, name=name)


def _role(org, name) -> IncidentRole:
    return IncidentRole.objects.get(org=org, name=name)


def _names(queryset) -> list[str]:
    return list(queryset.order_by("rank", "pk").values_list("name", flat=True))


def _status_names(org, category) -> list[str]:
    return _names(IncidentStatus.objects.filter(org=org, category=category))


def _severity_names(org) -> list[str]:
    return _names(Severity.objects.filter(org=org))


def _role_names(org) -> list[str]:
    return _names(IncidentRole.objects.filter(org=org))


def _declare(org, user, name="Checkout is down", **kwargs) -> Incident:
    return incident_declare(org=org, actor=Actor.for_user(user), name=name, **kwargs)


def _text(response) -> str:
    return response.content.decode()


def _between(html: str, start: str, end: str) -> str:
    """The part of ``html`` from the marker ``start`` to the next ``end``."""
    begin = html.index(start)
    return html[begin : html.index(end, begin + len(start))]


# --- Statuses ---------------------------------------------------------------------


def test_statuses_page_lists_every_category_in_lifecycle_order(as_admin):
    response = as_admin.get(STATUSES)
    assert response.status_code == 200
    html = _text(response)
    positions = [html.index(f'data-testid="category-{c}"') for c in StatusCategory.values]
    assert positions == sorted(positions)
    # Fixed statuses are shown with their description, never with edit or delete.
    triage = _between(html, 'data-testid="category-triage"', 'data-testid="category-live"')
    assert "Fixed" in triage and "Reported, not yet confirmed as an incident." in triage
    closed = _between(html, 'data-testid="category-closed"', 'data-testid="category-declined"')
    assert "Closed" in closed and "Finished." in closed
    for fixed in (triage, closed):
        assert "Edit" not in fixed and "Delete" not in fixed
    live = _between(html, 'data-testid="category-live"', 'data-testid="category-learning"')
    assert "Investigating" in live and "Sets “fixed”" in live and "Delete" in live


def test_statuses_page_shows_how_many_incidents_use_each_status(as_admin, acme, admin):
    _declare(acme, admin, "One")
    _declare(acme, admin, "Two")
    response = as_admin.get(STATUSES)
    live = next(group for group in response.context["groups"] if group["category"] == "live")
    assert [(row.obj.name, row.in_use) for row in live["rows"]] == [
        ("Investigating", 2),
        ("Fixing", 0),
        ("Monitoring", 0),
    ]
    assert '<td class="muted">2</td>' in _text(response)


def test_admin_adds_a_live_status_with_a_milestone(as_admin, acme):
    response = as_admin.post(
        STATUSES,
        {
            "action": "create",
            "name": " Verifying ",
            "category": "live",
            "milestone": "fixed",
            "description": "Checking.",
        },
        follow=True,
    )
    assert response.redirect_chain == [(STATUSES, 302)]
    assert "Status “Verifying” added." in _text(response)
    status = _status(acme, "Verifying")
    assert (status.category, status.milestone, status.description) == ("live", "fixed", "Checking.")
    assert _status_names(acme, "live")[-1] == "Verifying"


def test_admin_adds_a_learning_status(as_admin, acme):
    response = _post(as_admin, STATUSES, "create", name="Retro", category="learning")
    assert response.status_code == 302
    assert _status_names(acme, "learning") == ["Documenting", "Reviewing", "Retro"]


def test_a_learning_status_cannot_set_a_timestamp(as_admin, acme):
    data = {"name": "Retro", "category": "learning", "milestone": "fixed"}
    response = _post(as_admin, STATUSES, "create", **data)
    assert response.status_code == 400
    assert "Only live statuses set the identified or fixed time." in _text(response)
    assert not IncidentStatus.objects.filter(name="Retro").exists()


@pytest.mark.parametrize("category", ["closed", "triage", "merged"])
def test_a_status_cannot_be_added_to_a_fixed_category(as_admin, acme, category):
    before = IncidentStatus.objects.filter(org=acme).count()
    response = _post(as_admin, STATUSES, "create", name="Done done", category=category)
    assert response.status_code == 400
    assert "Only live and learning statuses can be added or changed." in _text(response)
    assert IncidentStatus.objects.filter(org=acme).count() == before


def test_a_duplicate_status_name_is_a_clear_error(as_admin, acme):
    response = _post(as_admin, STATUSES, "create", name="fixing", category="learning")
    assert response.status_code == 400
    assert "There is already a status called “fixing”." in _text(response)
    assert IncidentStatus.objects.filter(org=acme, name__iexact="fixing").count() == 1


def test_a_status_needs_a_name(as_admin, acme):
    before = IncidentStatus.objects.filter(org=acme).count()
    response = _post(as_admin, STATUSES, "create", name="", category="live")
    assert response.status_code == 400
    assert "This field is required." in _text(response)
    assert IncidentStatus.objects.filter(org=acme).count() == before


def test_admin_renames_and_describes_a_live_status(as_admin, acme):
    fixing = _status(acme, "Fixing")
    data = {"name": "Mitigating", "description": "Stop it.", "milestone": "fixed"}
    response = _post(as_admin, STATUSES, "update", fixing, **data)
    assert response.status_code == 302
    fixing.refresh_from_db()
    assert (fixing.name, fixing.description, fixing.milestone) == tuple(data.values())


def test_admin_renames_a_learning_status(as_admin, acme):
    reviewing = _status(acme, "Reviewing")
    response = _post(as_admin, STATUSES, "update", reviewing, name="Retro")
    assert response.status_code == 302
    reviewing.refresh_from_db()
    assert (reviewing.name, reviewing.description, reviewing.milestone) == ("Retro", "", "")


def test_renaming_to_a_taken_name_keeps_the_edit_open_with_the_error(as_admin, acme):
    fixing = _status(acme, "Fixing")
    response = _post(as_admin, STATUSES, "update", fixing, name="Monitoring")
    assert response.status_code == 400
    html = _text(response)
    assert "There is already a status called “Monitoring”." in html
    assert '<details class="edit" open>' in html
    fixing.refresh_from_db()
    assert fixing.name == "Fixing"


def test_admin_reorders_live_and_learning_statuses(as_admin, acme):
    response = _post(as_admin, STATUSES, "move", _status(acme, "Monitoring"), direction="up")
    assert response.status_code == 302
    assert _status_names(acme, "live") == ["Investigating", "Monitoring", "Fixing"]

    documenting = _status(acme, "Documenting")
    assert _post(as_admin, STATUSES, "move", documenting, direction="down").status_code == 302
    assert _status_names(acme, "learning") == ["Reviewing", "Documenting"]

    # Moving past the end changes nothing.
    assert _post(as_admin, STATUSES, "move", documenting, direction="down").status_code == 302
    assert _status_names(acme, "learning") == ["Reviewing", "Documenting"]


def test_a_fixed_status_cannot_be_moved_or_deleted(as_admin, acme):
    closed = _status(acme, "Closed")
    for response in (
        _post(as_admin, STATUSES, "move", closed, direction="up"),
        _post(as_admin, STATUSES, "delete", closed),
    ):
        assert response.status_code == 400
        assert "Only live and learning statuses can be added or changed." in _text(response)
    assert IncidentStatus.objects.filter(pk=closed.pk).exists()


def test_admin_deletes_unused_live_and_learning_statuses(as_admin, acme):
    for name in ("Monitoring", "Reviewing"):
        response = as_admin.post(
            STATUSES, {"action": "delete", "id": _status(acme, name).public_id}, follow=True
        )
        assert f"Status “{name}” deleted." in _text(response)
    assert _status_names(acme, "live") == ["Investigating", "Fixing"]
    assert _status_names(acme, "learning") == ["Documenting"]


def test_deleting_a_status_in_use_asks_where_its_incidents_go(as_admin, acme, admin):
    investigating = _status(acme, "Investigating")
    incident = _declare(acme, admin)  # declared incidents start in the first live status
    assert incident.status == investigating

    response = _post(as_admin, STATUSES, "delete", investigating)

    assert response.status_code == 400
    html = _text(response)
    prompt = _between(html, 'data-testid="replace"', "</section>")
    # The service's message says what is in use; the page shows it with the choice.
    assert "Investigating" in response.context["replace_error"]
    assert "1 incident(s)" in response.context["replace_error"]
    assert response.context["replace_error"] in prompt
    # Only the other live statuses are offered.
    assert [s.name for s in response.context["replacements"]] == ["Fixing", "Monitoring"]
    monitoring = _status(acme, "Monitoring")
    assert f'<option value="{monitoring.public_id}">Monitoring</option>' in prompt
    assert "Reviewing" not in prompt
    assert f'<option value="{investigating.public_id}">' not in prompt
    assert IncidentStatus.objects.filter(pk=investigating.pk).exists()
    incident.refresh_from_db()
    assert incident.status == investigating


def test_deleting_a_status_with_a_replacement_moves_its_incidents(as_admin, acme, admin):
    investigating, monitoring = _status(acme, "Investigating"), _status(acme, "Monitoring")
    for n in range(2):
        _declare(acme, admin, f"Incident {n}")

    response = as_admin.post(
        STATUSES,
        {"action": "delete", "id": investigating.public_id, "replacement": monitoring.public_id},
        follow=True,
    )

    assert "Status “Investigating” deleted. 2 incident(s) moved to Monitoring." in _text(response)
    assert not IncidentStatus.objects.filter(pk=investigating.pk).exists()
    assert [i.status_id for i in Incident.objects.filter(org=acme)] == [monitoring.pk] * 2


def test_a_replacement_from_another_category_is_refused(as_admin, acme, admin):
    investigating, reviewing = _status(acme, "Investigating"), _status(acme, "Reviewing")
    incident = _declare(acme, admin)

    response = _post(as_admin, STATUSES, "delete", investigating, replacement=reviewing.public_id)

    assert response.status_code == 400
    assert "Choose another live status." in _text(response)
    incident.refresh_from_db()
    assert incident.status == investigating


def test_the_last_live_status_cannot_be_deleted(as_admin, acme):
    configuration.status_delete(status=_status(acme, "Fixing"))
    configuration.status_delete(status=_status(acme, "Monitoring"))
    response = _post(as_admin, STATUSES, "delete", _status(acme, "Investigating"))
    assert response.status_code == 400
    assert "An organization needs at least one live status." in _text(response)
    assert _status_names(acme, "live") == ["Investigating"]


def test_another_orgs_status_id_through_my_page_is_404(as_admin, acme, globex):
    theirs, mine = _status(globex, "Fixing"), _status(acme, "Fixing")
    responses = [
        _post(as_admin, STATUSES, "update", theirs, name="Pwned"),
        _post(as_admin, STATUSES, "move", theirs, direction="up"),
        _post(as_admin, STATUSES, "delete", theirs),
        # A replacement is resolved through my org too.
        _post(as_admin, STATUSES, "delete", mine, replacement=theirs.public_id),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    theirs.refresh_from_db()
    assert theirs.name == "Fixing"
    assert _status_names(globex, "live") == ["Investigating", "Fixing", "Monitoring"]
    assert IncidentStatus.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("bad_id", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_missing_or_malformed_ids_are_404(as_admin, bad_id):
    assert _post(as_admin, STATUSES, "delete", id=bad_id).status_code == 404
    assert _post(as_admin, SEVERITIES, "move", id=bad_id, direction="up").status_code == 404
    assert _post(as_admin, ROLES, "update", id=bad_id, name="x", shortform="x").status_code == 404


def test_an_unknown_action_is_400(as_admin):
    for page in PAGES:
        response = _post(as_admin, page, "explode")
        assert response.status_code == 400
        assert "Unknown action." in _text(response)


# --- Severities ----------------------------------------------------------------------


def test_admin_adds_edits_and_reorders_severities(as_admin, acme):
    response = _post(as_admin, SEVERITIES, "create", name="Catastrophic", description="All down.")
    assert response.status_code == 302
    assert _severity_names(acme) == ["Minor", "Major", "Critical", "Catastrophic"]
    assert _severity(acme, "Catastrophic").description == "All down."

    minor = _severity(acme, "Minor")
    response = as_admin.post(
        SEVERITIES,
        {"action": "update", "id": minor.public_id, "name": "Low", "description": "Barely."},
        follow=True,
    )
    assert "Severity “Low” saved." in _text(response)
    minor.refresh_from_db()
    assert (minor.name, minor.description) == ("Low", "Barely.")

    catastrophic = _severity(acme, "Catastrophic")
    assert _post(as_admin, SEVERITIES, "move", catastrophic, direction="up").status_code == 302
    assert _severity_names(acme) == ["Low", "Major", "Catastrophic", "Critical"]


def test_a_duplicate_severity_name_is_a_clear_error(as_admin, acme):
    response = _post(as_admin, SEVERITIES, "create", name="MAJOR")
    assert response.status_code == 400
    assert "There is already a severity called “MAJOR”." in _text(response)
    assert _severity_names(acme) == ["Minor", "Major", "Critical"]


def test_a_bad_move_direction_is_400(as_admin, acme):
    response = _post(as_admin, SEVERITIES, "move", _severity(acme, "Major"), direction="sideways")
    assert response.status_code == 400
    assert "Move up or down." in _text(response)
    assert _severity_names(acme) == ["Minor", "Major", "Critical"]


def test_deleting_a_severity_in_use_needs_a_replacement(as_admin, acme, admin):
    major, critical = _severity(acme, "Major"), _severity(acme, "Critical")
    incident = _declare(acme, admin, severity=major)

    response = _post(as_admin, SEVERITIES, "delete", major)
    assert response.status_code == 400
    assert "1 incident(s) have severity Major; choose where they go." in _text(response)
    assert [s.name for s in response.context["replacements"]] == ["Minor", "Critical"]
    assert Severity.objects.filter(pk=major.pk).exists()

    response = as_admin.post(
        SEVERITIES,
        {"action": "delete", "id": major.public_id, "replacement": critical.public_id},
        follow=True,
    )
    assert "Severity “Major” deleted. 1 incident(s) moved to Critical." in _text(response)
    incident.refresh_from_db()
    assert incident.severity == critical
    assert _severity_names(acme) == ["Minor", "Critical"]


def test_admin_deletes_an_unused_severity(as_admin, acme):
    response = _post(as_admin, SEVERITIES, "delete", _severity(acme, "Minor"))
    assert response.status_code == 302
    assert _severity_names(acme) == ["Major", "Critical"]


def test_another_orgs_severity_id_through_my_page_is_404(as_admin, acme, globex):
    theirs, mine = _severity(globex, "Major"), _severity(acme, "Major")
    responses = [
        _post(as_admin, SEVERITIES, "update", theirs, name="Pwned"),
        _post(as_admin, SEVERITIES, "delete", theirs),
        _post(as_admin, SEVERITIES, "delete", mine, replacement=theirs.public_id),
    ]
    assert [r.status_code for r in responses] == [404] * 3
    assert _severity_names(globex) == ["Minor", "Major", "Critical"]
    assert Severity.objects.filter(pk=mine.pk).exists()


# --- Roles ---------------------------------------------------------------------------


def test_roles_page_shows_built_in_roles(as_admin):
    response = as_admin.get(ROLES)
    assert response.status_code == 200
    html = _text(response)
    assert "Incident Lead" in html and "Reporter" in html
    assert html.count("Built-in") == 2
    assert "Delete Incident Lead" not in html and "Delete Reporter" not in html


def test_admin_adds_edits_reorders_and_deletes_a_role(as_admin, acme):
    response = as_admin.post(
        ROLES,
        {
            "action": "create",
            "name": "Communications",
            "shortform": "Comms",
            "instructions": "Talk to customers.",
            "required": "on",
        },
        follow=True,
    )
    assert "Role “Communications” added." in _text(response)
    comms = _role(acme, "Communications")
    assert (comms.shortform, comms.required) == ("comms", True)
    assert comms.instructions == "Talk to customers."
    assert comms.kind == RoleKind.CUSTOM

    response = _post(as_admin, ROLES, "update", comms, name="Comms Lead", shortform="comms-lead")
    assert response.status_code == 302
    comms.refresh_from_db()
    assert (comms.name, comms.shortform, comms.instructions, comms.required) == (
        "Comms Lead",
        "comms-lead",
        "",
        False,
    )

    assert _post(as_admin, ROLES, "move", comms, direction="up").status_code == 302
    assert _role_names(acme) == ["Incident Lead", "Comms Lead", "Reporter"]

    response = as_admin.post(ROLES, {"action": "delete", "id": comms.public_id}, follow=True)
    assert "Role “Comms Lead” deleted." in _text(response)
    assert _role_names(acme) == ["Incident Lead", "Reporter"]


def test_a_duplicate_role_shortform_is_a_clear_error(as_admin, acme):
    response = _post(as_admin, ROLES, "create", name="Leader", shortform="lead")
    assert response.status_code == 400
    assert "Another role uses the short form “lead”." in _text(response)
    assert _role_names(acme) == ["Incident Lead", "Reporter"]


def test_a_too_long_role_shortform_is_a_form_error(as_admin, acme):
    response = _post(as_admin, ROLES, "create", name="Scribe", shortform="s" * 31)
    assert response.status_code == 400
    assert "Ensure this value has at most 30 characters" in _text(response)
    assert _role_names(acme) == ["Incident Lead", "Reporter"]


@pytest.mark.parametrize("name", ["Incident Lead", "Reporter"])
def test_a_built_in_role_cannot_be_deleted(as_admin, acme, name):
    response = _post(as_admin, ROLES, "delete", _role(acme, name))
    assert response.status_code == 400
    assert f"{name} is built in and cannot be deleted; rename it instead." in _text(response)
    assert _role_names(acme) == ["Incident Lead", "Reporter"]


def test_the_lead_role_stays_required_when_renamed(as_admin, acme):
    lead = _role(acme, "Incident Lead")
    response = _post(as_admin, ROLES, "update", lead, name="Commander", shortform="ic")
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.name, lead.shortform, lead.kind) == ("Commander", "ic", RoleKind.LEAD)
    assert lead.required


def test_another_orgs_role_id_through_my_page_is_404(as_admin, globex):
    theirs = configuration.role_create(org=globex, name="Scribe", shortform="scribe")
    responses = [
        _post(as_admin, ROLES, "update", theirs, name="Pwned", shortform="pwned"),
        _post(as_admin, ROLES, "move", theirs, direction="up"),
        _post(as_admin, ROLES, "delete", theirs),
    ]
    assert [r.status_code for r in responses] == [404] * 3
    theirs.refresh_from_db()
    assert theirs.name == "Scribe"


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize("role_user", ["responder", "viewer"])
@pytest.mark.parametrize("page", PAGES)
def test_lifecycle_settings_are_for_admins_only(role_user, page, request, acme, signed_in):
    client = signed_in(request.getfixturevalue(role_user), acme)
    fixing = _status(acme, "Fixing")
    assert client.get(page).status_code == 403
    sneaky = {"name": "Sneaky", "category": "live", "shortform": "sneaky"}
    assert _post(client, page, "create", **sneaky).status_code == 403
    assert _post(client, STATUSES, "delete", fixing).status_code == 403
    assert not IncidentStatus.objects.filter(name="Sneaky").exists()
    assert not Severity.objects.filter(name="Sneaky").exists()
    assert not IncidentRole.objects.filter(name="Sneaky").exists()
    assert not IncidentType.objects.filter(name="Sneaky").exists()
    assert IncidentStatus.objects.filter(pk=fixing.pk).exists()


def test_owner_can_use_the_pages(owner, acme, signed_in):
    client = signed_in(owner, acme)
    assert [client.get(page).status_code for page in PAGES] == [200] * len(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_outsider_gets_nothing_from_acme_pages(page, outsider, globex, acme, signed_in):
    """Signed in to globex only: /acme/… holds no session for them, so it is sign-in."""
    client = signed_in(outsider, globex)
    theirs = _status(globex, "Fixing")

    assert client.get(page).status_code == 302
    response = _post(client, STATUSES, "update", theirs, name="Pwned")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    theirs.refresh_from_db()
    assert theirs.name == "Fixing"

    # Their own pages work, and acme's ids are 404 there.
    assert client.get(page.replace("/acme/", "/globex/")).status_code == 200
    mine = _status(acme, "Fixing")
    assert _post(client, "/globex/settings/statuses/", "delete", mine).status_code == 404
    assert IncidentStatus.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("page", PAGES)
def test_wrong_method_is_405(as_admin, page):
    assert as_admin.put(page).status_code == 405
    assert as_admin.delete(page).status_code == 405
    assert as_admin.patch(page).status_code == 405


# --- Query counts --------------------------------------------------------------------


def test_statuses_page_query_count_does_not_grow(
    as_admin, acme, admin, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10) as few:
        as_admin.get(STATUSES)
    for n in range(10):
        configuration.status_create(org=acme, name=f"Live {n}", category="live")
        configuration.status_create(org=acme, name=f"Learning {n}", category="learning")
        _declare(acme, admin, f"Incident {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_admin.get(STATUSES).status_code == 200


def test_severities_page_query_count_does_not_grow(
    as_admin, acme, admin, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10) as few:
        as_admin.get(SEVERITIES)
    for n in range(10):
        severity = configuration.severity_create(org=acme, name=f"Sev {n}")
        _declare(acme, admin, f"Incident {n}", severity=severity)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_admin.get(SEVERITIES).status_code == 200


def test_roles_page_query_count_does_not_grow(as_admin, acme, django_assert_max_num_queries):
    with django_assert_max_num_queries(10) as few:
        as_admin.get(ROLES)
    for n in range(10):
        configuration.role_create(org=acme, name=f"Role {n}", shortform=f"role-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_admin.get(ROLES).status_code == 200
