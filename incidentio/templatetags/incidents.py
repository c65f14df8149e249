from __future__ import annotations

from datetime import timedelta

from django import template

from incidentio.markdown import render_markdown

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


@register.filter
def selecting(options, value):
    """``{{ member_options|selecting:task.assignee_id }}``: the options of an
    ``OptionList`` with ``value`` selected (none when it is empty)."""
    return options.render(value or None)
