from __future__ import annotations

from django import template

from incidentio.common import text

register = template.Library()


@register.filter
def full_stop(value) -> str:
    """``{{ org.name|full_stop }}`` at the end of a sentence: "Acme Inc." keeps one full stop."""
    return text.full_stop(value)
