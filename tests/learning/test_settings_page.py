"""Settings → Learning flow: admins shape what happens after an incident closes.

One page: the lifecycle rules, each learning status with its task templates,
and forms to add, edit, reorder and delete them. A POST carries an ``action``
and redirects back; refused input comes back as a 400 with the message on
the page and nothing changed. Responders and viewers get 403; other orgs'
ids are 404.
"""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, IncidentStatus, Severity, StatusCategory
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask, LifecycleRules, TaskKind, TaskTemplate, UnmatchedPolicy
from learning.selectors import default_flow
from learning.services import configuration
from learning.services.flow import flow_steps, incident_close

pytestmark = pytest.mark.django_db

PAGE = "/acme/settings/learning/"


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


def _post(client, action, obj=None, page=PAGE, **data):
    """POST one ``action``; ``obj`` goes as its public id."""
    if obj is not None:
        data["id"] = obj.public_id
    return client.post(page, {"action": action, **data})


def _task_data(**overrides) -> dict:
    """A task template form as a browser sends it: an unchecked box is absent."""
    data = {
        "title": "Tell the customers",
        "kind": TaskKind.CUSTOM,
        "instructions": "",
        "assignee_role": "",
        "target_role": "",
        "required": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _status(org, name) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def _role(org, name) -> IncidentRole:
    return IncidentRole.objects.get(org=org, name=name)


def _severity(org, name) -> Severity:
    return Severity.objects.get(org=org, name=name)


def _learning_names(org) -> list[str]:
    """The default flow's statuses, in its order."""
    return [status.name for status in flow_steps(default_flow(org=org).pk)]


def _titles(status) -> list[str]:
    return list(
        TaskTemplate.objects.filter(status=status)
        .order_by("rank", "pk")
        .values_list("title", flat=True)
    )


def _text(response) -> str:
    return response.content.decode()


def _in_flow(org, user, name="Checkout is down"):
    actor = Actor.for_user(user)
    incident = incident_declare(org=org, actor=actor, name=name)
    return incident_close(incident=incident, actor=actor, learning_flow="run")


# --- The page ------------------------------------------------------------------------


def test_admin_sees_the_default_flow_in_order(as_admin):
    response = as_admin.get(PAGE)
    assert response.status_code == 200
    html = _text(response)
    assert html.index("Documenting") < html.index("Reviewing")
    for title in (
        "Create the post-mortem",
        "Review the incident timeline",
        "Update timestamps",
        "Create follow-ups",
        "Schedule the debrief",
        "Mark the post-mortem as complete",
        "Share the post-mortem",
        "Review follow-ups",
    ):
        assert title in html
    # Statuses and their tasks in flow order (kind labels are also options of every kind select).
    flow = [
        (card.status.name, [row.template.title for row in card.tasks])
        for card in response.context["flows"][0].cards
    ]
    assert flow == [
        (
            "Documenting",
            [
                "Create the post-mortem",
                "Review the incident timeline",
                "Update timestamps",
                "Create follow-ups",
            ],
        ),
        (
            "Reviewing",
            [
                "Schedule the debrief",
                "Mark the post-mortem as complete",
                "Share the post-mortem",
                "Review follow-ups",
            ],
        ),
    ]
    # Kind labels, required, the default assignee and markdown instructions.
    assert (
        "Review the timeline" in html and "Required" in html and "Assignee: Incident Lead" in html
    )
    assert "<em>impact started</em>" in html
    # The tab, and the rules as seeded: Critical and above, others asked.
    assert 'class="active">Learning flow</a>' in html
    critical = _severity(response.context["org"], "Critical")
    assert f'<option value="{critical.public_id}" selected>Critical</option>' in html
    assert '<option value="ask" selected>Ask whoever closes the incident</option>' in html


def test_the_learning_tab_is_on_every_settings_page(as_admin):
    for page in ("/acme/settings/", "/acme/settings/statuses/"):
        assert 'href="/acme/settings/learning/"' in _text(as_admin.get(page))


def test_owner_can_use_the_page(owner, acme, signed_in):
    assert signed_in(owner, acme).get(PAGE).status_code == 200


# --- Task templates ----------------------------------------------------------------------


def test_admin_adds_a_task_with_instructions_edits_reorders_and_deletes_it(as_admin, acme):
    reviewing = _status(acme, "Reviewing")
    response = _post(
        as_admin,
        "task_create",
        status=reviewing.public_id,
        **_task_data(
            title="Tell the customers", instructions="Post on **the status page**.", required=None
        ),
    )
    assert response.status_code == 302
    assert response["Location"].startswith(PAGE)
    task = TaskTemplate.objects.get(org=acme, title="Tell the customers")
    assert (task.status, task.kind, task.required, task.assignee_role) == (
        reviewing,
        "custom",
        False,
        None,
    )
    assert _titles(reviewing)[-1] == "Tell the customers"

    page = as_admin.get(PAGE)
    html = _text(page)
    assert "Task “Tell the customers” added to Reviewing." in html
    assert "<strong>the status page</strong>" in html
    item = html[html.index(f'id="task-{task.public_id}"') :]
    item = item[: item.index("</li>")]
    assert "Optional" in item and "Assignee: Nobody" in item and "Custom" in item

    # Edit: a new title, a role to assign, the lead as assignee, required.
    reporter, lead = _role(acme, "Reporter"), _role(acme, "Incident Lead")
    response = _post(
        as_admin,
        "task_update",
        task,
        **_task_data(
            title="Name a reporter",
            kind=TaskKind.ASSIGN_ROLE,
            target_role=reporter.public_id,
            assignee_role=lead.public_id,
            instructions="Someone writes the updates.",
        ),
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.kind, task.target_role, task.assignee_role, task.required) == (
        "Name a reporter",
        TaskKind.ASSIGN_ROLE,
        reporter,
        lead,
        True,
    )
    assert task.instructions == "Someone writes the updates."
    html = _text(as_admin.get(PAGE))
    assert "Assign a role" in html and "Completes when someone is assigned as Reporter." in html

    # Reorder: up one, then it cannot go below the bottom.
    assert _post(as_admin, "task_move", task, direction="up").status_code == 302
    assert _titles(reviewing)[-2:] == ["Name a reporter", "Review follow-ups"]
    assert _post(as_admin, "task_move", task, direction="down").status_code == 302
    assert _post(as_admin, "task_move", task, direction="down").status_code == 302
    assert _titles(reviewing)[-1] == "Name a reporter"

    assert _post(as_admin, "task_delete", task).status_code == 302
    assert not TaskTemplate.objects.filter(pk=task.pk).exists()
    assert "Task “Name a reporter” deleted." in _text(as_admin.get(PAGE))


def test_an_assign_role_task_without_its_role_is_refused(as_admin, acme):
    documenting = _status(acme, "Documenting")
    before = _titles(documenting)
    response = _post(
        as_admin,
        "task_create",
        status=documenting.public_id,
        **_task_data(title="Name a scribe", kind=TaskKind.ASSIGN_ROLE),
    )
    assert response.status_code == 400
    html = _text(response)
    assert "needs the role to assign" in html
    # The form comes back open, with what was typed.
    assert 'value="Name a scribe"' in html and '<details class="inline-edit" open>' in html
    assert _titles(documenting) == before

    # The same rule when editing; the template is unchanged.
    task = TaskTemplate.objects.get(org=acme, title="Create the post-mortem")
    response = _post(
        as_admin, "task_update", task, **_task_data(title="Renamed", kind=TaskKind.ASSIGN_ROLE)
    )
    assert response.status_code == 400
    assert "needs the role to assign" in _text(response)
    task.refresh_from_db()
    assert (task.title, task.kind) == ("Create the post-mortem", TaskKind.CREATE_POSTMORTEM)


def test_a_task_needs_a_title_and_a_known_kind(as_admin, acme):
    documenting = _status(acme, "Documenting")
    before = TaskTemplate.objects.count()
    blank = _post(as_admin, "task_create", status=documenting.public_id, **_task_data(title="  "))
    unknown = _post(
        as_admin, "task_create", status=documenting.public_id, **_task_data(kind="telepathy")
    )
    assert [blank.status_code, unknown.status_code] == [400, 400]
    assert "telepathy" in _text(unknown)
    assert TaskTemplate.objects.count() == before


def test_editing_a_template_does_not_change_tasks_already_given(as_admin, acme, owner):
    incident = _in_flow(acme, owner)
    given = list(
        LearningTask.objects.filter(incident=incident)
        .order_by("rank")
        .values_list("title", flat=True)
    )
    assert given[0] == "Create the post-mortem"

    template = TaskTemplate.objects.get(org=acme, title="Create the post-mortem")
    response = _post(
        as_admin,
        "task_update",
        template,
        **_task_data(title="Write it all down", kind=template.kind, instructions="New words."),
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.title == "Write it all down"
    tasks = LearningTask.objects.filter(incident=incident).order_by("rank")
    assert list(tasks.values_list("title", flat=True)) == given
    assert "New words." not in tasks[0].instructions


def test_a_bad_move_direction_and_an_unknown_action_are_400(as_admin, acme):
    task = TaskTemplate.objects.get(org=acme, title="Update timestamps")
    assert _post(as_admin, "task_move", task, direction="sideways").status_code == 400
    assert _post(as_admin, "explode").status_code == 400
    assert "Unknown action." in _text(_post(as_admin, "explode"))


# --- Learning statuses --------------------------------------------------------------------


def test_admin_adds_renames_reorders_and_deletes_a_learning_status(as_admin, acme):
    response = _post(
        as_admin, "status_create", name="Celebrating", description="Thank the responders."
    )
    assert response.status_code == 302
    celebrating = _status(acme, "Celebrating")
    assert celebrating.category == StatusCategory.LEARNING
    assert _learning_names(acme) == ["Documenting", "Reviewing", "Celebrating"]
    assert "Learning status “Celebrating” added to the Default flow." in _text(as_admin.get(PAGE))

    response = _post(
        as_admin, "status_update", celebrating, name="Thanking", description="Say thank you."
    )
    assert response.status_code == 302
    celebrating.refresh_from_db()
    assert (celebrating.name, celebrating.description) == ("Thanking", "Say thank you.")

    assert _post(as_admin, "status_move", celebrating, direction="up").status_code == 302
    assert _learning_names(acme) == ["Documenting", "Thanking", "Reviewing"]

    # A new status has no tasks until someone adds one.
    assert "No tasks: incidents move straight through this status." in _text(as_admin.get(PAGE))

    assert _post(as_admin, "status_delete", celebrating).status_code == 302
    assert _learning_names(acme) == ["Documenting", "Reviewing"]


def test_a_duplicate_status_name_is_a_clear_error(as_admin, acme):
    response = _post(as_admin, "status_create", name="reviewing")
    assert response.status_code == 400
    assert "There is already a status called “reviewing”." in _text(response)
    assert _learning_names(acme) == ["Documenting", "Reviewing"]

    documenting = _status(acme, "Documenting")
    response = _post(as_admin, "status_update", documenting, name="Reviewing")
    assert response.status_code == 400
    assert "There is already a status called “Reviewing”." in _text(response)
    documenting.refresh_from_db()
    assert documenting.name == "Documenting"


def test_deleting_a_learning_status_in_use_asks_where_its_incidents_go(as_admin, acme, owner):
    incident = _in_flow(acme, owner)
    documenting, reviewing = _status(acme, "Documenting"), _status(acme, "Reviewing")

    response = _post(as_admin, "status_delete", documenting)
    assert response.status_code == 400
    html = _text(response)
    assert "choose the status they move to" in html
    assert f'<option value="{reviewing.public_id}">Reviewing</option>' in html
    assert IncidentStatus.objects.filter(pk=documenting.pk).exists()

    response = _post(as_admin, "status_delete", documenting, replacement=reviewing.public_id)
    assert response.status_code == 302
    assert _learning_names(acme) == ["Reviewing"]
    incident.refresh_from_db()
    assert incident.status == reviewing
    assert not LearningTask.objects.filter(incident=incident).exclude(status=reviewing).exists()
    assert "Learning status “Documenting” deleted." in _text(as_admin.get(PAGE))


def test_a_live_status_cannot_be_changed_from_this_page(as_admin, acme):
    fixing = _status(acme, "Fixing")
    assert _post(as_admin, "status_update", fixing, name="Broken").status_code == 404
    assert _post(as_admin, "status_delete", fixing).status_code == 404
    assert (
        _post(as_admin, "task_create", status=fixing.public_id, **_task_data()).status_code == 404
    )
    fixing.refresh_from_db()
    assert fixing.name == "Fixing"
    assert not TaskTemplate.objects.filter(status=fixing).exists()


# --- Lifecycle rules ------------------------------------------------------------------------


def test_rules_form_saves_the_minimum_severity_and_never(as_admin, acme):
    major = _severity(acme, "Major")
    response = _post(
        as_admin, "rules", auto_enter_min_severity=major.public_id, otherwise=UnmatchedPolicy.NEVER
    )
    assert response.status_code == 302
    rules = LifecycleRules.objects.get(org=acme)
    assert (rules.auto_enter_min_severity, rules.otherwise) == (major, UnmatchedPolicy.NEVER)
    assert "Lifecycle rules of Default saved." in _text(as_admin.get(PAGE))

    # "— none —": no incident enters the flow by severity.
    assert (
        _post(
            as_admin, "rules", auto_enter_min_severity="", otherwise=UnmatchedPolicy.ASK
        ).status_code
        == 302
    )
    rules.refresh_from_db()
    assert (rules.auto_enter_min_severity, rules.otherwise) == (None, UnmatchedPolicy.ASK)


def test_rules_with_another_orgs_severity_are_refused_and_unchanged(as_admin, acme, globex):
    theirs = _severity(globex, "Minor")
    response = _post(
        as_admin, "rules", auto_enter_min_severity=theirs.public_id, otherwise=UnmatchedPolicy.NEVER
    )
    assert response.status_code == 404
    bad = _post(
        as_admin, "rules", auto_enter_min_severity="not-a-uuid", otherwise=UnmatchedPolicy.NEVER
    )
    unknown = _post(as_admin, "rules", auto_enter_min_severity="", otherwise="sometimes")
    assert [bad.status_code, unknown.status_code] == [400, 400]
    rules = LifecycleRules.objects.get(org=acme)
    assert (rules.auto_enter_min_severity, rules.otherwise) == (
        _severity(acme, "Critical"),
        UnmatchedPolicy.ASK,
    )


# --- Access ------------------------------------------------------------------------------


@pytest.mark.parametrize("role_user", ["responder", "viewer"])
def test_the_page_is_for_admins_only(role_user, request, acme, signed_in):
    client = signed_in(request.getfixturevalue(role_user), acme)
    template = TaskTemplate.objects.get(org=acme, title="Update timestamps")
    documenting = _status(acme, "Documenting")
    assert client.get(PAGE).status_code == 403
    responses = [
        _post(client, "task_update", template, **_task_data(title="Sneaky")),
        _post(client, "task_delete", template),
        _post(client, "task_create", status=documenting.public_id, **_task_data(title="Sneaky")),
        _post(client, "status_create", name="Sneaky"),
        _post(client, "status_delete", documenting),
        _post(client, "rules", auto_enter_min_severity="", otherwise=UnmatchedPolicy.NEVER),
    ]
    assert [r.status_code for r in responses] == [403] * 6
    template.refresh_from_db()
    assert template.title == "Update timestamps"
    assert not TaskTemplate.objects.filter(title="Sneaky").exists()
    assert _learning_names(acme) == ["Documenting", "Reviewing"]
    assert LifecycleRules.objects.get(org=acme).otherwise == UnmatchedPolicy.ASK


def test_another_orgs_ids_through_my_page_are_404(as_admin, acme, globex):
    their_template = TaskTemplate.objects.get(org=globex, title="Update timestamps")
    their_status = _status(globex, "Documenting")
    their_role = _role(globex, "Reporter")
    mine = _status(acme, "Documenting")
    responses = [
        _post(as_admin, "task_update", their_template, **_task_data(title="Pwned")),
        _post(as_admin, "task_move", their_template, direction="up"),
        _post(as_admin, "task_delete", their_template),
        _post(as_admin, "task_create", status=their_status.public_id, **_task_data(title="Pwned")),
        _post(
            as_admin,
            "task_create",
            status=mine.public_id,
            **_task_data(title="Pwned", assignee_role=their_role.public_id),
        ),
        _post(
            as_admin,
            "task_create",
            status=mine.public_id,
            **_task_data(
                title="Pwned", kind=TaskKind.ASSIGN_ROLE, target_role=their_role.public_id
            ),
        ),
        _post(as_admin, "status_update", their_status, name="Pwned"),
        _post(as_admin, "status_move", their_status, direction="down"),
        _post(as_admin, "status_delete", their_status),
        _post(as_admin, "status_delete", mine, replacement=_status(globex, "Reviewing").public_id),
    ]
    assert [r.status_code for r in responses] == [404] * 10
    their_template.refresh_from_db()
    assert their_template.title == "Update timestamps"
    assert _learning_names(globex) == ["Documenting", "Reviewing"]
    assert not TaskTemplate.objects.filter(title="Pwned").exists()
    assert IncidentStatus.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("bad_id", ["", "nope", "00000000-0000-0000-0000-000000000000"])
def test_missing_or_malformed_ids_are_404(as_admin, bad_id):
    assert _post(as_admin, "task_delete", id=bad_id).status_code == 404
    assert _post(as_admin, "status_move", id=bad_id, direction="up").status_code == 404
    assert _post(as_admin, "task_create", status=bad_id, **_task_data()).status_code == 404


def test_outsider_gets_nothing_from_acmes_page(outsider, globex, acme, signed_in):
    """Signed in to globex only: /acme/… holds no session for them, so it is sign-in."""
    client = signed_in(outsider, globex)
    mine = TaskTemplate.objects.get(org=acme, title="Update timestamps")
    assert client.get(PAGE).status_code == 302
    response = _post(client, "task_delete", mine)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # Their own page works, and acme's ids are 404 there.
    assert client.get("/globex/settings/learning/").status_code == 200
    assert _post(client, "task_delete", mine, page="/globex/settings/learning/").status_code == 404
    assert TaskTemplate.objects.filter(pk=mine.pk).exists()


def test_wrong_method_is_405(as_admin):
    assert as_admin.put(PAGE).status_code == 405
    assert as_admin.delete(PAGE).status_code == 405
    assert as_admin.patch(PAGE).status_code == 405


# --- Query count ---------------------------------------------------------------------------


def test_page_query_count_does_not_grow_with_templates(
    as_admin, acme, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15) as few:
        assert as_admin.get(PAGE).status_code == 200
    lead, reporter = _role(acme, "Incident Lead"), _role(acme, "Reporter")
    extra = configuration.flow_status_create(flow=default_flow(org=acme), name="Celebrating")
    for status in (_status(acme, "Documenting"), _status(acme, "Reviewing"), extra):
        for n in range(5):
            configuration.template_create(
                org=acme,
                status=status,
                title=f"Task {n}",
                kind=TaskKind.ASSIGN_ROLE,
                instructions=f"Do *thing* {n}.",
                assignee_role=lead,
                target_role=reporter,
            )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_admin.get(PAGE).status_code == 200
