from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("_field.html")
def field(bound_field):
    """``{% field form.name %}``: the field's label, widget, help text and errors
    as the forms' stylesheet lays them out (``templates/_field.html``): a
    checkbox beside its label, a hidden input alone. So a form's fields can be
    rendered in a loop, ``{% for field in form %}{% field field %}{% endfor %}``,
    and a field added to the form shows without naming it in the template."""
    return {"field": bound_field}
