"""Form widgets rendered in Python where Django's templates are too slow.

Django renders every ``<option>`` of a select through its own template
include (~0.3 ms each). The incident page offers the org's members in three
forms, so with 200 members that was 600 includes and most of the page's time
(docs/performance.md). These widgets produce the same HTML from the same
``get_context`` data, with ``format_html`` escaping every value.
"""

from __future__ import annotations

import html

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe


class FastSelectMixin:
    def render(self, name, value, attrs=None, renderer=None):
        if not any(isinstance(label, (list, tuple)) for _value, label in self.choices):
            return self._render_flat(name, value, attrs)
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html("<select name=\"{}\"{}>", widget["name"], flatatt(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html("<optgroup label=\"{}\">", group_name))
            for option in options:
                parts.append(format_html(
                    "<option value=\"{}\"{}>{}</option>", option["value"], flatatt(option["attrs"]), option["label"],
                ))
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # safe: every value went through format_html

    def _render_flat(self, name, value, attrs):
        """Choices without groups, skipping ``optgroups`` (a context dict per
        option, ~14 µs each): the selection rule is ``ChoiceWidget.optgroups``'s."""
        attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        values = set(self.format_value(value))
        parts = [f"<select name=\"{html.escape(name)}\"{flatatt(attrs)}>"]
        has_selected = False
        escaped = getattr(self.choices, "escaped", None)
        for index, (option_value, label) in enumerate(self.choices):
            option_value = "" if option_value is None else str(option_value)
            selected = (not has_selected or self.allow_multiple_selected) and option_value in values
            has_selected |= selected
            mark = " selected" if selected else ""
            value_html, label_html = escaped[index] if escaped else (html.escape(option_value), html.escape(str(label)))
            parts.append(f"<option value=\"{value_html}\"{mark}>{label_html}</option>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # safe: the name, every value and every label were escaped


class FastSelect(FastSelectMixin, forms.Select):
    pass


class FastSelectMultiple(FastSelectMixin, forms.SelectMultiple):
    pass


class EscapedChoices(list):
    """Flat ``(value, label)`` choices carrying ``escaped``, their HTML-escaped
    ``(value, label)`` in the same order: the selects of one page that offer
    the same 200 members escape them once (``incident_forms.member_choices``)."""

    def __init__(self, choices, escaped):
        super().__init__(choices)
        if len(escaped) != len(self):
            raise ValueError("every choice needs its escaped form")
        self.escaped = escaped


def escape_choices(choices) -> list[tuple[str, str]]:
    """As ``_render_flat`` escapes each choice: a None value is the empty one."""
    return [(html.escape("" if value is None else str(value)), html.escape(str(label))) for value, label in choices]


class OptionList:
    """A select's ``<option>`` elements rendered once, then reused with a
    different selection: the incident page offers the same members in a select
    per role and per outstanding task. The markup is one string; selecting a
    value splices `` selected`` in at the offsets recorded for it, instead of
    building 200 options again for each select."""

    def __init__(self, choices):
        escaped = getattr(choices, "escaped", None) or escape_choices(choices)
        parts: list[str] = []
        self._selected_at: dict[str, list[int]] = {}  # value → where " selected" goes, per option with it
        length = 0
        for (value, _label), (value_html, label_html) in zip(choices, escaped, strict=True):
            start, end = f"<option value=\"{value_html}\"", f">{label_html}</option>"
            self._selected_at.setdefault(str(value), []).append(length + len(start))
            parts += [start, end]
            length += len(start) + len(end)
        self._html = "".join(parts)

    def render(self, selected=None) -> str:
        selected = "" if selected is None else str(selected)
        offsets = self._selected_at.get(selected) if selected else None  # the empty choice is never marked
        if not offsets:
            return mark_safe(self._html)  # safe: every value and label was escaped in __init__
        pieces, last = [], 0
        for offset in offsets:
            pieces += [self._html[last:offset], " selected"]
            last = offset
        pieces.append(self._html[last:])
        return mark_safe("".join(pieces))  # safe: as above, plus a fixed attribute
