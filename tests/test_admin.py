"""Django admin for support staff: superusers read, nobody writes incidents there."""

import pytest
from django.test import Client

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(email="support@incidentio.test", is_staff=True, is_superuser=True)


def test_superuser_reads_incidents_in_the_admin(staff, acme, owner):
    incident = incident_declare(org=acme, actor=Actor.for_user(owner), name="Disk full")
    client = Client()
    sign_in(client, staff, None)

    listing = client.get("/admin/incidentio/incident/")
    page = client.get(f"/admin/incidentio/incident/{incident.pk}/change/")

    assert listing.status_code == 200 and "Disk full" in listing.content.decode()
    assert page.status_code == 200 and "INC-1 declared" in page.content.decode()
    # Read-only: no add, no save.
    assert client.get("/admin/incidentio/incident/add/").status_code == 403
    assert client.post(f"/admin/incidentio/incident/{incident.pk}/change/", {"name": "x"}).status_code == 403


def test_members_without_staff_flag_get_no_admin(owner, acme):
    client = Client()
    sign_in(client, owner, None)
    assert client.get("/admin/", follow=True).status_code == 403


def test_the_admin_never_shows_a_webhook_secret_or_a_bot_token(staff, acme):
    from slackbot.models import SlackWorkspace
    from webhooks.services import endpoint_create

    endpoint = endpoint_create(org=acme, url="https://example.com/hooks", events=["incident.created"], created_by=None)
    SlackWorkspace.objects.create(org=acme, team_id="T0ADMIN", bot_token="xoxb-admin-must-not-see")
    client = Client()
    sign_in(client, staff, None)

    page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and "https://example.com/hooks" in page.content.decode()
    assert endpoint.secret not in page.content.decode()
    # Workspaces are not in the admin at all.
    assert client.get("/admin/slackbot/slackworkspace/").status_code == 404
