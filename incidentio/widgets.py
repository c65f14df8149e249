"""Form widgets rendered in Python where Django's templates are too slow.

Django renders every ``<option>`` of a select through its own template
include (~0.3 ms each). The incident page offers the org's members in three
forms, so with 200 members that was 600 includes and most of the page's time
(docs/performance.md). These widgets produce the same HTML from the same
``get_context`` data, with ``format_html`` escaping every value.
"""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe


class FastSelectMixin:
    def render(self, name, value, attrs=None, renderer=None):
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
        return mark_safe("".join(parts))  # noqa: S308 - every value went through format_html


class FastSelect(FastSelectMixin, forms.Select):
    pass


class FastSelectMultiple(FastSelectMixin, forms.SelectMultiple):
    pass
