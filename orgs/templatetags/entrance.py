"""Tags for the entrance pages (sign-in, adding an organization): which orgs this
browser holds already, and which one a sign-in is for."""

from __future__ import annotations

from django import template

from orgs import sessions

register = template.Library()


@register.simple_tag(takes_context=True)
def browser_orgs(context) -> dict:
    """``{% browser_orgs as here %}``: ``here.held``, the org sessions this browser
    holds that still work, and ``here.back``, the one to go back to (last used)."""
    request = context["request"]
    held = sessions.usable_memberships(request)
    return {"held": held, "back": sessions.landing_membership(request, held=held)}


@register.filter
def sign_in_target(next_url: str | None) -> str | None:
    """``{{ redirect_field_value|sign_in_target }}``: the org slug a sign-in is for, if any."""
    return sessions.sign_in_target(next_url)
