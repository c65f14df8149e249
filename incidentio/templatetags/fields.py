from __future__ import annotations

from django import template

from incidentio.form_rendering import render_field

register = template.Library()


@register.simple_tag
def field(bound_field):
    """``{% field form.name %}``: the field's label, widget, help text and errors
    (``incidentio.form_rendering.render_field``)."""
    return render_field(bound_field)
