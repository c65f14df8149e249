from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("_field.html")
def field(bound_field):
    """``{% field form.name %}``: the field's label, widget, help text and errors
    as the forms' stylesheet lays them out (``templates/_field.html``)."""
    return {"field": bound_field}
