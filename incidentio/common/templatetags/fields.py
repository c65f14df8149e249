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


@register.simple_tag
def failed(failure, action: str, **match):
    """``{% failed failure action_url as f %}``: the refused post waiting for
    this page (``incidentio.common.form_failures``) if it was sent to
    ``action_url`` — so the form of that action shows its errors and typed
    text — else None. Forms sharing one action URL tell theirs apart by a
    posted value: ``{% failed failure url role=role.public_id as f %}``."""
    if failure is None or failure.action != action:
        return None
    if any(failure.values.get(name) != str(value) for name, value in match.items()):
        return None
    return failure
