"""Member selects name people by name (docs/dashboard.md, "Polish"): "Name (e-mail)"
was cut off at the select's width ("Alice Admin (alice@exampl")."""

from __future__ import annotations

import html
import re

import pytest

from orgs.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _assignee_options(page: str) -> list[str]:
    select = re.search(r'<select name="assignee"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [html.unescape(label) for label in re.findall(r"<option[^>]*>(.*?)</option>", select)]


def test_a_member_select_shows_names_with_the_email_only_where_needed(signed_in, acme, owner):
    owner.name = "Alice Admin"
    owner.save(update_fields=["name"])
    for email, name in (("sam1@acme.test", "Sam Smith"), ("sam2@acme.test", "Sam Smith"), ("nameless@acme.test", "")):
        MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(email=email, name=name))

    page = signed_in(owner, acme).get("/acme/incidents/").content.decode()

    assert _assignee_options(page) == [
        "Anyone",
        "Alice Admin",  # the name alone
        "nameless@acme.test",  # no name: the whole e-mail, not its first half
        "Sam Smith (sam1@acme.test)",  # two people share the name: told apart
        "Sam Smith (sam2@acme.test)",
    ]
