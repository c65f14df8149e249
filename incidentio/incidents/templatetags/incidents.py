from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django import template
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from incidentio.common.markdown import render_markdown
from incidentio.common.templatetags.links import link
from incidentio.incidents.models import StatusCategory
from orgs.calendar import due_label

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str, cache: str = "cached"):
    """``{{ text|markdown }}``; ``{{ text|markdown:"uncached" }}`` for a text shown once (a live preview)."""
    return render_markdown(text, cache=cache != "uncached")


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


@register.simple_tag
def incident_duration(incident) -> str:
    """The incident's duration (``1d 3h``); for one not resolved yet, in triage
    or live, the time since its impact started (or it was reported) and "so
    far": ``2h 5m so far``. An em dash for one closed without a resolution."""
    if incident.duration is not None:
        return duration(incident.duration)
    if incident.resolved_at is None and incident.status.category in _UNRESOLVED_CATEGORIES:
        started = incident.impact_started_at or incident.reported_at
        return f"{duration(max(timezone.now() - started, timedelta(0)))} so far"
    return "—"


_UNRESOLVED_CATEGORIES = (StatusCategory.TRIAGE, StatusCategory.LIVE)


@register.inclusion_tag("incidents/_on_demand_form.html", takes_context=True)
def on_demand_form(context, form_name: str):
    """``{% on_demand_form "follow-up" %}``: the ``<details>`` that fetches one of
    the incident page's forms when opened (incidentio/incidents/views/on_demand_forms.py),
    with a link to the form's own page for browsers without JavaScript."""
    from incidentio.incidents.views.on_demand_forms import ON_DEMAND_FORMS

    org, incident = context["org"], context["incident"]
    spec = ON_DEMAND_FORMS[form_name]
    url = link("incident_form", org.slug, incident.public_id, form_name)
    shown = {"url": url, "name": form_name, "title": spec.title}
    failure = context.get("failure")
    if failure is not None and failure.action == link(spec.action, org.slug, incident.public_id):
        # Its post was refused: the form is here already, open, with the errors and the typed text.
        form = failure.bind(spec.bind(org, failure.query_dict()))
        shown["form_html"] = render_to_string(spec.template, {**context.flatten(), "form": form})
    return shown


@register.simple_tag
def select_options(choices, selected=None, blank=""):
    """``{% select_options choices selected blank %}``: the ``<option>``s of a
    select (``incidents/_options.html``), after an empty one labelled ``blank``
    when given. ``selected`` may be a list (a filter whose parameter the query
    string repeats): the last value is shown, as ``request.GET[name]`` reads it.

    A page holds several selects, some of hundreds of members (the list's
    filters, the incident page's role and task selects), ≈ 1.2 ms each for 200
    members through the template. Their markup depends on the choices, the
    selection and the blank label alone, so each distinct one is rendered once
    per process and kept: a new member, a rename or another selection is
    another entry, so nothing is ever stale."""
    if isinstance(selected, (list, tuple)):
        selected = selected[-1] if selected else None
    selected = None if selected is None else str(selected)  # None: no option is marked
    return _render_options(tuple(tuple(choice) for choice in choices), selected, blank)


@lru_cache(maxsize=512)
def _render_options(choices: tuple, selected: str | None, blank: str) -> str:
    return render_to_string("incidents/_options.html", {"choices": choices, "selected": selected, "blank": blank})


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


def _is_outstanding(item) -> bool:
    # A task has ``state``; a follow-up has ``status`` (a task's ``status`` is its learning status).
    state = getattr(item, "state", None)
    return (state if state is not None else getattr(item, "status", None)) == "outstanding"


@register.simple_tag(takes_context=True)
def due_badge(context, item):
    """``{% due_badge task %}``: "Due Tue 9 Dec", or for outstanding work past
    its due date "⚠ Overdue by 2 days", in the org's time zone; nothing without
    a due date. Overdue is said in words and marked with a sign, not by colour alone."""
    due_at = getattr(item, "due_at", None)
    if due_at is None:
        return ""
    org = context["org"]
    label = due_label(due_at, tz=org.time_zone, now=timezone.now(), done=not _is_outstanding(item))
    return format_html(
        '<span class="due{}" data-testid="due" title="{}">{}{}</span>',
        " overdue" if label.overdue else "", f"{label.local:%Y-%m-%d %H:%M} ({org.time_zone})",
        "⚠ " if label.overdue else "", label.text,
    )


@register.filter
def org_date(value, org) -> str:
    """An aware datetime's date in the org's time zone, as YYYY-MM-DD (a date input's value)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(org.time_zone)).date().isoformat()
