"""Form fields and their widgets rendered in Python.

Django renders each widget through its template engine: ``text.html``
includes ``input.html`` which includes ``attrs.html``, ~0.1 ms a field, and
our ``_field.html`` wrapper around it as much again. The incident page alone
has eighteen fields (most inside closed ``<details>``), which made them a
sixth of its time (docs/performance.md).

``FastFormRenderer`` (``settings.FORM_RENDERER``) produces the markup of
Django's own templates for the plain widget templates below, from the same
``get_context`` data and with the same escaping; every other template (radio
lists, multi-widgets; selects are ``incidentio.widgets``') goes to the
template engine as before. A project override of one of the templates below
would be bypassed: take its name out of the set. ``tests/test_form_rendering.py``
compares both renderings widget by widget. ``render_field`` is the ``{% field %}`` tag's
markup: the label, the widget, help text and errors.
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

_WIDGETS = "django/forms/widgets/"
#: Templates that are ``input.html`` and nothing else.
INPUT_TEMPLATES = frozenset(
    f"{_WIDGETS}{name}.html"
    for name in ("input", "text", "email", "url", "number", "password", "hidden", "date", "datetime", "time",
                 "search", "tel", "color", "checkbox")
)
TEXTAREA_TEMPLATE = f"{_WIDGETS}textarea.html"


def _text(value) -> str:
    """``{{ value|stringformat:"s" }}`` under autoescaping."""
    return conditional_escape(value if isinstance(value, SafeString) else str(value))


def render_attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``: ``False`` leaves an attribute out,
    ``True`` writes its bare name."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{_text(value)}"')
    return "".join(parts)


def render_input(widget: dict) -> str:
    value = "" if widget["value"] is None else f' value="{_text(widget["value"])}"'
    return (f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f'{value}{render_attrs(widget["attrs"])}>')


def render_textarea(widget: dict) -> str:
    value = conditional_escape(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{conditional_escape(widget["name"])}"{render_attrs(widget["attrs"])}>\n{value}</textarea>'


class FastFormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name in INPUT_TEMPLATES:
            return mark_safe(render_input(context["widget"]))  # safe: every value escaped above
        if template_name == TEXTAREA_TEMPLATE:
            return mark_safe(render_textarea(context["widget"]))  # safe: every value escaped above
        return super().render(template_name, context, request)


def render_field(field) -> SafeString:
    """A form field as the forms' stylesheet lays it out: label, widget, help
    text, errors; ``has-error`` on the wrapper when there are errors."""
    errors = field.errors
    parts = [
        f'<div class="field{" has-error" if errors else ""}">',
        f'<label for="{conditional_escape(field.id_for_label or "")}">{conditional_escape(field.label)}</label>',
        str(field),
    ]
    if field.help_text:
        parts.append(f'<small class="help">{conditional_escape(field.help_text)}</small>')
    parts.extend(f'<small class="error">{conditional_escape(error)}</small>' for error in errors)
    parts.append("</div>")
    return mark_safe("".join(parts))  # safe: the widget is safe HTML, everything else escaped
