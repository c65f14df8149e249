from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from django import template
from django.template.loader import render_to_string

from incidentio.common.markdown import render_markdown
from incidentio.common.templatetags.links import link

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str):
    return render_markdown(text)


@register.filter
def duration(value: timedelta | None) -> str:
    """``1d 3h``, ``2h 5m``, ``45m``, ``<1m``; an em dash when unknown."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m" if mins else "<1m"


@register.inclusion_tag("incidents/_on_demand_form.html", takes_context=True)
def on_demand_form(context, form_name: str):
    """``{% on_demand_form "follow-up" %}``: the ``<details>`` that fetches one of
    the incident page's forms when opened (incidentio/incidents/views/on_demand_forms.py),
    with a link to the form's own page for browsers without JavaScript."""
    from incidentio.incidents.views.on_demand_forms import ON_DEMAND_FORMS

    url = link("incident_form", context["org"].slug, context["incident"].public_id, form_name)
    return {"url": url, "name": form_name, "title": ON_DEMAND_FORMS[form_name].title}


@register.simple_tag
def member_options(members, selected="", blank=""):
    """``{% member_options members selected blank %}``: the ``<option>``s of a
    select of the org's members (``incidents/_member_options.html``).

    A page holds several such selects of up to hundreds of members (the list's
    assignee filter, the incident page's role and task selects), ≈ 1.2 ms each
    through the template for 200. Their markup depends on the options, the
    selection and the blank label alone, so each distinct one is rendered once
    per process and kept: a new member, a rename or another selection is
    another entry, so nothing is ever stale."""
    return _render_member_options(tuple(members), str(selected or ""), blank)


@lru_cache(maxsize=256)
def _render_member_options(members: tuple, selected: str, blank: str) -> str:
    return render_to_string(
        "incidents/_member_options.html", {"members": members, "selected": selected, "blank": blank}
    )


@register.simple_tag
def badges(category, status, severity, rank):
    """``{% badges category status severity rank %}``: an incident's status and
    severity pills (``incidents/_badges.html``). An org has a few dozen
    combinations, and a list shows one per row, so each is rendered once per
    process and kept (it depends on these four values alone)."""
    return _render_badges(category, status, severity or "", rank)


@lru_cache(maxsize=1024)
def _render_badges(category: str, status: str, severity: str, rank) -> str:
    return render_to_string(
        "incidents/_badges.html", {"category": category, "status": status, "severity": severity, "rank": rank}
    )
