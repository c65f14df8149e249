"""Creating, leaving and the defaults every new organization gets."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs import services
from orgs.models import Membership, Organization, Role
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_an_org_from_the_dashboard(responder, acme, signed_in):
    client = signed_in(responder, acme)
    response = client.post("/acme/organizations/new/", {"name": "Sandbox", "slug": "sandbox"})
    assert response.status_code == 302 and response.url == "/sandbox/"
    org = Organization.objects.get(slug="sandbox")
    assert Membership.objects.get(org=org, user=responder).role == Role.OWNER
    # Both orgs now work in this browser as the same person.
    assert client.get("/sandbox/").context["request"].user == responder
    assert client.get("/acme/").status_code == 200


def test_new_user_creates_a_first_org():
    user = UserFactory()
    client = Client()
    sign_in(client, user, None)
    response = client.post("/organizations/new/", {"name": "Initech", "slug": "initech"})
    assert response.url == "/initech/"
    assert client.get("/initech/").status_code == 200


@pytest.mark.parametrize(
    ("slug", "message"),
    [("acme", "taken"), ("admin", "reserved"), ("Bad Slug!", "lowercase"), ("-x", "lowercase"), ("", "required")],
)
def test_bad_slugs_are_refused_with_a_clear_message(slug, message, responder, acme, signed_in):
    client = signed_in(responder, acme)
    response = client.post("/acme/organizations/new/", {"name": "X", "slug": slug})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Organization.objects.count() == 1


def test_anonymous_cannot_create_an_org(db):
    response = Client().post("/organizations/new/", {"name": "X", "slug": "x"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert not Organization.objects.exists()


def test_setup_steps_run_in_the_creating_transaction(settings, db):
    calls = []
    settings.ORG_SETUP_STEPS = ["tests.orgs.test_organizations.record_setup"]
    record_setup.calls = calls
    org = services.organization_create(name="Initech", slug="initech", owner=UserFactory())
    assert calls == [org.slug]


def record_setup(*, org):
    record_setup.calls.append(org.slug)


def test_failing_setup_step_leaves_no_half_made_org(settings, db):
    settings.ORG_SETUP_STEPS = ["tests.orgs.test_organizations.failing_setup"]
    with pytest.raises(RuntimeError):
        services.organization_create(name="Initech", slug="initech", owner=UserFactory())
    assert not Organization.objects.exists()
    assert not Membership.objects.exists()


def failing_setup(*, org):
    raise RuntimeError("setup failed")


def test_member_leaves_and_loses_access(responder, acme, signed_in):
    client = signed_in(responder, acme)
    response = client.post("/acme/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(org=acme, user=responder).exists()
    assert client.get("/acme/").status_code == 302  # no session for acme any more


def test_last_owner_cannot_leave(owner, acme, signed_in):
    client = signed_in(owner, acme)
    response = client.post("/acme/leave/", follow=True)
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(org=acme, user=owner).exists()


def test_viewer_sees_the_dashboard_but_no_settings_link(viewer, acme, signed_in):
    client = signed_in(viewer, acme)
    page = client.get("/acme/")
    assert page.status_code == 200
    assert "/acme/settings/" not in page.content.decode()


def test_profile_name_is_saved(responder, acme, signed_in):
    client = signed_in(responder, acme)
    client.post("/acme/preferences/", {"action": "profile", "name": "Rita Responder"})
    responder.refresh_from_db()
    assert responder.name == "Rita Responder"


def test_wrong_old_password_changes_nothing(responder, acme, signed_in):
    client = signed_in(responder, acme)
    response = client.post(
        "/acme/preferences/",
        {"action": "password", "old_password": "nope", "new_password1": "x-y-z-123456", "new_password2": "x-y-z-123456"},
    )
    assert response.status_code == 400
    responder.refresh_from_db()
    assert responder.check_password("correct-horse-battery")


def test_overview_shows_active_incidents_and_my_open_tasks(responder, acme, globex, outsider, signed_in):
    from incidentio.common.actors import Actor
    from incidentio.incidents.services.incidents import incident_declare
    from learning.services.flow import incident_close

    actor = Actor.for_user(responder)
    incident_declare(org=acme, actor=actor, name="Disk filling up")
    incident_declare(org=globex, actor=Actor.for_user(outsider), name="Another org's outage")
    done = incident_declare(org=acme, actor=actor, name="Old outage", lead=responder)
    incident_close(incident=done, actor=actor, learning_flow="run")

    page = signed_in(responder, acme).get("/acme/")

    overview = page.context["overview"]
    assert [i.name for i in overview.active] == ["Disk filling up"] and overview.active_count == 1
    assert overview.learning_count == 1 and overview.my_open_tasks == 4
    assert "Disk filling up" in page.content.decode()
