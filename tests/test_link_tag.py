"""``{% link %}`` gives what ``{% url %}`` gives, also under a script prefix; so does the remembered
incident URL prefix (``incidentio.common.links``)."""

from __future__ import annotations

from django.template import engines
from django.urls import set_script_prefix

SAME = "{% load links %}{% link 'incident_list' slug %}|{% url 'incident_list' slug %}|{% link 'add_organization' %}|{% url 'add_organization' %}"


def render(**context) -> list[str]:
    return engines["django"].from_string(SAME).render(context).split("|")


def test_link_is_the_url_tag_remembered():
    link, url, add_link, add_url = render(slug="acme")
    assert link == url == "/acme/incidents/"
    assert add_link == add_url
    assert render(slug="globex")[:2] == ["/globex/incidents/", "/globex/incidents/"]


def test_link_follows_the_script_prefix():
    try:
        set_script_prefix("/incidentio/")
        link, url, *_ = render(slug="acme")
        assert link == url == "/incidentio/acme/incidents/"
    finally:
        set_script_prefix("/")


def test_the_remembered_incident_url_prefix_is_the_orgs_and_follows_the_script_prefix():
    from types import SimpleNamespace

    from incidentio.common.links import incident_url_prefix

    acme, globex = SimpleNamespace(slug="acme"), SimpleNamespace(slug="globex")
    assert [incident_url_prefix(acme), incident_url_prefix(globex), incident_url_prefix(acme)] == [
        "/acme/incidents/", "/globex/incidents/", "/acme/incidents/"]
    try:
        set_script_prefix("/incidentio/")
        assert incident_url_prefix(acme) == "/incidentio/acme/incidents/"
    finally:
        set_script_prefix("/")
    assert incident_url_prefix(acme) == "/acme/incidents/"
