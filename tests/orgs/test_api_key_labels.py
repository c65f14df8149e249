"""Settings → API keys names roles as people say them, not by their API values."""

from __future__ import annotations

import re

import pytest

from orgs.services import api_key_create

pytestmark = pytest.mark.django_db


def test_the_key_list_and_the_form_name_roles_in_words(admin, acme, signed_in):
    api_key_create(org=acme, name="Status page", roles=["viewer", "post_incident_flow_opt_out"], created_by=admin)

    page = re.sub(r"\s+", " ", signed_in(admin, acme).get("/acme/settings/api-keys/").content.decode())

    roles = re.search(r'<td data-testid="key-roles">(.*?)</td>', page).group(1)
    assert roles == "Viewer<br>Learning-flow opt-out"
    form = page[page.index('data-testid="role-choices"'):]
    for label, allows in (("Viewer", "Reads everything."), ("Incident editor", "Declares, edits and closes incidents")):
        assert re.search(rf'<label for="id_roles_\d">\s*<input [^>]*> {label}</label> <small class="help">{allows}', form)
    assert "<code>viewer</code>" not in page and "<code>incident_editor</code>" not in page
