from __future__ import annotations

from datetime import timedelta

from django import template

from incidentio.markdown import render_markdown
from incidentio.templatetags.links import link

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
    the incident page's forms when opened (incidentio/views/on_demand_forms.py),
    with a link to the form's own page for browsers without JavaScript."""
    from incidentio.views.on_demand_forms import ON_DEMAND_FORMS

    url = link("incident_form", context["org"].slug, context["incident"].public_id, form_name)
    return {"url": url, "name": form_name, "title": ON_DEMAND_FORMS[form_name].title}
