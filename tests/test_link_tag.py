"""``{% link %}`` gives what ``{% url %}`` gives, also under a script prefix."""

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
