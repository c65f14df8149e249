"""Which sign-ins go through an org's identity provider, and where they start.

The sign-in page asks for the e-mail first and routes on its domain alone
(never on whether the address has an account: ``ACCOUNT_PREVENT_ENUMERATION``);
a sign-in *for* an org offers that org's SSO; an org that requires SSO takes
no password sign-in but an owner's break-glass one (``orgs.sso.break_glass``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from orgs.models import Membership, Role, User
from orgs.sso.models import OrgSSO
from orgs.sso.services import email_domain


def enabled_sso(org_slug: str | None) -> OrgSSO | None:
    """The org's SSO if it is switched on."""
    if not org_slug:
        return None
    return OrgSSO.objects.select_related("org").filter(org__slug=org_slug, enabled=True).first()


def requires_sso(org_sso: OrgSSO | None) -> bool:
    return org_sso is not None and org_sso.enabled and org_sso.enforced


def sso_for_email(email: str, *, target: str | None = None) -> OrgSSO | None:
    """The SSO a sign-in with ``email`` goes through: that of the org claiming
    its domain, if switched on. A sign-in *for* another org (``target``) stays
    with the password: the person asked for that org, not their company's."""
    domain = email_domain(email)
    if not domain:
        return None
    org_sso = OrgSSO.objects.select_related("org").filter(enabled=True, org__claimed_domains__domain=domain).first()
    if org_sso is None or (target is not None and org_sso.org.slug != target):
        return None
    return org_sso


def start_url(slug: str, next_url: str | None = None) -> str:
    """``sso_start`` for the org, coming back to ``next_url`` (else the org's home)."""
    next_url = next_url or reverse("org_home", kwargs={"org_slug": slug})
    return f"{reverse('sso_start', kwargs={'org_slug': slug})}?{urlencode({'next': next_url})}"


def is_owner(user: User, org) -> bool:
    return Membership.objects.filter(org=org, user=user, role=Role.OWNER).exists()


def break_glass_url(org_sso: OrgSSO) -> str:
    return reverse("sso_break_glass", kwargs={"org_slug": org_sso.org.slug})


def orgs_requiring_sso(user: User) -> list[OrgSSO]:
    """The SSO of every org ``user`` belongs to that requires it, in joining order."""
    org_ids = Membership.objects.filter(user=user).order_by("created_at").values_list("org_id", flat=True)
    found = {row.org_id: row for row in OrgSSO.objects.select_related("org").filter(
        org_id__in=list(org_ids), enabled=True, enforced=True)}
    return [found[org_id] for org_id in org_ids if org_id in found]


def password_refused_message(org_sso: OrgSSO, user: User) -> str:
    """Why a correct password did not sign in for an org that requires SSO;
    an owner also gets the break-glass link (they are the ones who can fix the IdP)."""
    org = org_sso.org
    message = format_html('{} requires single sign-on. <a href="{}">Continue with {} single sign-on</a>.',
                          org.name, start_url(org.slug), org.name)
    if is_owner(user, org):
        message += format_html(' Owner locked out of the identity provider? <a href="{}">Break-glass sign-in</a>.',
                               break_glass_url(org_sso))
    return message


def all_orgs_refused_message(required: list[OrgSSO]) -> str:
    """Why a plain password sign-in signed in nowhere: every org requires SSO."""
    links = format_html_join(", ", '<a href="{}">{}</a>', ((start_url(row.org.slug), row.org.name) for row in required))
    return format_html("Your organizations require single sign-on. Sign in through: {}.", links)
