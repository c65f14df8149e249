"""The incidents list's rows (templates/incidents/list.html, the pills of
_badges.html) and its filter selects (IncidentFilterForm, Django's widgets):
what each shows, escaped, and which option is chosen."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentStatus, Severity
from incidentio.incidents.services.incidents import incident_declare

pytestmark = pytest.mark.django_db

LIST = "/acme/incidents/"


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


def _options(html: str, name: str) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` of each option of the select named ``name``."""
    select = re.search(rf'<select name="{name}" id="id_{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [(value, unescape(label), bool(selected))
            for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)]


def _row(html: str, name_fragment: str) -> str:
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if name_fragment in row]
    assert len(rows) == 1, rows
    return rows[0]


def test_a_row_links_to_the_incident_and_shows_its_status_severity_roles_and_age(as_responder, acme, responder):
    severity = Severity.objects.filter(org=acme).order_by("rank").first()
    incident = incident_declare(
        org=acme, actor=Actor.for_user(responder), name="Checkout <b>down</b> & out", severity=severity, lead=responder,
    )
    html = as_responder.get(LIST).content.decode()

    row = _row(html, "Checkout")
    url = reverse("incident_detail", kwargs={"org_slug": "acme", "incident_id": incident.public_id})
    assert f'<td class="ref"><a href="{url}">{incident.reference}</a></td>' in row
    assert f'<a class="incident-name" href="{url}">Checkout &lt;b&gt;down&lt;/b&gt; &amp; out</a>' in row
    assert f'<span class="status-pill cat-{incident.status.category}">{incident.status.name}</span>' in row
    assert f'<span class="sev-pill sev-{severity.rank}">{severity.name}</span>' in row
    roles = [f"{a.role.name}: {a.user.display_name}" for a in incident.role_assignments.order_by("role__rank", "role__pk")]
    assert len(roles) >= 2  # the reporter and the lead
    assert f'<td class="muted small">{"<br>".join(roles)}</td>' in row
    reported = timezone.localtime(incident.reported_at)
    # Declared a moment ago: "just now", not "0 minutes ago"; the local time with its zone on hover.
    assert (f'<time datetime="{reported.isoformat(timespec="seconds")}" '
            f'title="{reported:%-d %b %Y, %H:%M} UTC">just now</time>') in row


def test_a_renamed_status_shows_on_the_next_view_escaped(as_responder, acme, responder):
    """The pills are rendered once per distinct status and severity and kept: a new name is a new rendering."""
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Renamed")
    as_responder.get(LIST)
    IncidentStatus.objects.filter(pk=incident.status_id).update(name="Digging <in>")

    row = _row(as_responder.get(LIST).content.decode(), "Renamed")

    assert f'<span class="status-pill cat-{incident.status.category}">Digging &lt;in&gt;</span>' in row


def test_a_row_without_severity_or_roles_shows_neither(as_responder, acme, responder):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Quiet one")
    incident.role_assignments.all().delete()
    row = _row(as_responder.get(LIST).content.decode(), "Quiet one")
    assert "sev-pill" not in row
    assert '<td class="muted small">—</td>' in row


def test_filter_selects_show_the_chosen_value_and_every_option(as_responder, acme, responder, owner):
    status = IncidentStatus.objects.filter(org=acme).first()
    html = as_responder.get(LIST, {"status": str(status.public_id), "assignee": str(owner.pk)}).content.decode()

    assert (str(status.public_id), status.name, True) in _options(html, "status")
    assert _options(html, "category")[0] == ("", "Any", False)
    assignee = _options(html, "assignee")
    assert assignee[0] == ("", "Anyone", False)
    assert (str(owner.pk), owner.name, True) in assignee
    assert (str(responder.pk), responder.name, False) in assignee
    assert [selected for *_, selected in assignee].count(True) == 1


def test_a_repeated_filter_shows_its_last_value(as_responder, acme):
    first, last = IncidentStatus.objects.filter(org=acme).order_by("rank", "pk")[:2]
    html = as_responder.get(f"{LIST}?status={first.public_id}&status={last.public_id}").content.decode()
    assert [value for value, _, selected in _options(html, "status") if selected] == [str(last.public_id)]


def test_filter_labels_are_escaped(as_responder, acme):
    status = IncidentStatus.objects.filter(org=acme, category="live").first()
    status.name = "<b>Fixing</b> & co"
    status.save(update_fields=["name"])
    html = as_responder.get(LIST).content.decode()
    assert "&lt;b&gt;Fixing&lt;/b&gt; &amp; co</option>" in html and "<b>Fixing</b>" not in html


def test_only_any_is_chosen_without_filters(as_responder):
    html = as_responder.get(LIST).content.decode()
    for name in ("category", "status", "severity", "learning_flow", "assignee"):
        assert [value for value, _, selected in _options(html, name) if selected] in ([], [""]), name


def test_status_and_severity_filters_list_every_option_in_the_orgs_order(as_responder, acme):
    """One query reads both (selectors.filter_choices): the same order as the settings pages."""
    from incidentio.incidents import selectors

    html = as_responder.get(LIST).content.decode()
    for name, expected in (
        ("status", selectors.status_list(org=acme)),
        ("severity", list(selectors.severity_list(org=acme))),
    ):
        shown = [(value, label) for value, label, _ in _options(html, name)]
        assert shown == [("", "Any")] + [(str(item.public_id), item.name) for item in expected]
