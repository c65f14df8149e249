"""Names are one line: they go into e-mail subjects, where a CR/LF is a
BadHeaderError (a 500) or, unchecked, a header injection (issue #22)."""

from __future__ import annotations

import pytest
from django.core import mail

from orgs import services
from orgs.models import Invitation, Organization, User

pytestmark = pytest.mark.django_db

INJECTION = "Mallory\r\nBcc: victim@example.com"
REFUSED = "Use a single line, without line breaks, tabs or other control characters."


@pytest.mark.parametrize("name", [INJECTION, "Mallory\nEve", "Tab\tbed", "Null\x00byte", "Esc\x1b[31m"])
def test_a_display_name_with_a_control_character_is_refused_and_not_stored(name, responder, acme, signed_in):
    before = responder.name
    client = signed_in(responder, acme)

    response = client.post("/acme/preferences/", {"action": "profile", "name": name})

    assert response.status_code == 400
    assert REFUSED in response.context["profile_form"].errors["name"]
    responder.refresh_from_db()
    assert responder.name == before


def test_a_plain_unicode_display_name_is_saved(responder, acme, signed_in):
    client = signed_in(responder, acme)
    client.post("/acme/preferences/", {"action": "profile", "name": "Zoë Åberg-O'Neil 🚒"})
    responder.refresh_from_db()
    assert responder.name == "Zoë Åberg-O'Neil 🚒"


def test_an_organization_name_with_a_line_break_is_refused(owner, acme, signed_in):
    client = signed_in(owner, acme)

    renamed = client.post("/acme/settings/", {"name": INJECTION})
    created = client.post("/organizations/new/", {"name": INJECTION, "slug": "evil"})

    assert renamed.status_code == 400 and REFUSED in renamed.content.decode()
    assert created.status_code == 400 and REFUSED in created.content.decode()
    assert Organization.objects.get(slug="acme").name == "Acme Inc."
    assert not Organization.objects.filter(slug="evil").exists()


@pytest.mark.parametrize("call", ["user_update_profile", "organization_rename", "organization_create"])
def test_every_service_that_writes_a_name_refuses_a_line_break(call, owner, acme):
    calls = {
        "user_update_profile": lambda: services.user_update_profile(user=owner, name=INJECTION),
        "organization_rename": lambda: services.organization_rename(org=acme, name=INJECTION),
        "organization_create": lambda: services.organization_create(name=INJECTION, slug="evil", owner=owner),
    }
    before = owner.name
    with pytest.raises(services.ServiceError, match="single line") as exc:
        calls[call]()
    assert exc.value.field == "name"
    assert User.objects.get(pk=owner.pk).name == before
    assert Organization.objects.get(pk=acme.pk).name == "Acme Inc." and not Organization.objects.filter(slug="evil").exists()


def test_an_invitation_from_a_name_saved_before_the_rule_is_sent_on_one_line(
    admin, acme, signed_in, django_capture_on_commit_callbacks
):
    """Rows written before names were validated may hold a line break."""
    User.objects.filter(pk=admin.pk).update(name=INJECTION)
    Organization.objects.filter(pk=acme.pk).update(name="Acme\nInc.")
    client = signed_in(admin, acme)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/acme/settings/members/", {"email": "new@example.com", "role": "viewer"})

    assert response.status_code == 302
    assert Invitation.objects.filter(email="new@example.com").exists()
    [message] = mail.outbox
    assert message.subject == "Mallory Bcc: victim@example.com invited you to Acme Inc. on incidentio"
    assert message.to == ["new@example.com"] and message.bcc == []
