"""Settings → Single sign-on (owners only): the identity provider, switching
it on, requiring it, roles, claimed domains, the break-glass audit list, and
"Test connection" with its report. The rules are ``orgs.sso.configuration``'s.

Every form posts to the page with an ``action``; a refused form is shown
again at the page's URL with a 400, its errors beside its fields; buttons
without fields answer with a message and a redirect to the page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from incidentio.common.errors import add_service_error
from incidentio.common.lookups import get_or_404
from orgs.models import Role
from orgs.sso import configuration, sign_in
from orgs.sso.forms import DomainForm, GroupRoleForm, IdentityProviderForm, RolesForm
from orgs.sso.models import SSO_ROLE_CHOICES, BreakGlassSignIn, ClaimedDomain, OrgSSO, Protocol
from orgs.sso.social_apps import OIDC_PROVIDER, sp_entity_id
from orgs.views.base import OrgView

#: How many break-glass sign-ins the page lists (the most recent).
AUDIT_LIST_LENGTH = 50


class OwnerView(OrgView):
    """Single sign-on decides who may be in the org at all: owners only. Others
    get the same 403 as a settings page above their role."""

    required_role = Role.OWNER


@method_decorator(sensitive_post_parameters("client_secret", "sp_private_key"), name="dispatch")
class SSOSettingsView(OwnerView):
    """The page, and every form on it. Its secrets are masked in Django's
    error reports, should a post ever end in one."""

    template_name = "sso/settings.html"

    def get(self, request, org_slug):
        return self.render(request)

    def post(self, request, org_slug):
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action}", None) if action in self.ACTIONS else None
        if handler is None:
            messages.error(request, "Unknown action.")
            return self.back()
        return handler(request)

    ACTIONS = frozenset({"save_idp", "switch_on", "switch_off", "require", "unrequire", "save_roles",
                         "map_group", "unmap_group", "claim_domain", "unclaim_domain"})

    # --- The identity provider ---

    def do_save_idp(self, request):
        org_sso = configuration.org_sso(self.org)
        form = IdentityProviderForm(request.POST, org_sso=org_sso)
        if form.is_valid():
            data = form.cleaned_data
            was_on = org_sso is not None and org_sso.enabled
            try:
                if data["protocol"] == Protocol.OIDC:
                    saved = configuration.save_oidc(org=self.org, issuer=data["issuer"], client_id=data["client_id"],
                                                    client_secret=data["client_secret"])
                else:
                    saved = configuration.save_saml(
                        org=self.org, metadata_url=data["metadata_url"], metadata_xml=data["metadata_xml"],
                        sp_private_key=data["sp_private_key"], sp_x509cert=data["sp_x509cert"],
                        remove_sp_key=data.get("remove_sp_key", False),
                    )
            except configuration.ConfigurationError as exc:
                add_service_error(form, exc)
            else:
                if saved.tested_at is None:
                    off = " Single sign-on is off until then." if was_on else ""
                    messages.success(request, f"Identity provider saved. Run “Test connection” to check it.{off}")
                else:
                    messages.success(request, "Identity provider saved; nothing about it changed.")
                return self.back()
        return self.render(request, idp_form=form, status=400)

    # --- On, off, required ---

    def do_switch_on(self, request):
        return self._button(lambda row: configuration.switch_on(row), "Single sign-on is on: members can sign in "
                            "through the identity provider.")

    def do_switch_off(self, request):
        return self._button(configuration.switch_off, "Single sign-on is off: members sign in with their passwords.")

    def do_require(self, request):
        return self._button(lambda row: configuration.require(row, required=True),
                            "Single sign-on is required: members can no longer use a password here.")

    def do_unrequire(self, request):
        return self._button(lambda row: configuration.require(row, required=False),
                            "Single sign-on is no longer required: members may use a password again.")

    def _button(self, change, done: str, *, anchor: str = ""):
        """A button: ``change(org_sso)``, then ``done`` or the refusal as a message,
        and back to the page at ``anchor``."""
        try:
            change(self.org_sso_or_404())
        except configuration.ConfigurationError as exc:
            messages.error(self.request, str(exc))
        else:
            messages.success(self.request, done)
        return self.back(anchor)

    # --- Roles ---

    def do_save_roles(self, request):
        org_sso = self.org_sso_or_404()
        return self._submit(request, "roles_form", RolesForm(request.POST),
                            lambda data: configuration.save_roles(org_sso, **data),
                            lambda data, _: "Roles saved; they apply from each person's next sign-in.", anchor="roles")

    def do_map_group(self, request):
        org_sso = self.org_sso_or_404()
        return self._submit(request, "group_form", GroupRoleForm(request.POST),
                            lambda data: configuration.map_group(org_sso, **data),
                            lambda data, _: f"People in {data['group']} get their role at their next sign-in.",
                            anchor="roles")

    def do_unmap_group(self, request):
        group = request.POST.get("group", "")

        def unmap(org_sso):
            if group not in org_sso.group_roles:
                raise Http404("No such group mapping.")
            configuration.unmap_group(org_sso, group=group)

        return self._button(unmap, f"{group} no longer gives a role.", anchor="roles")

    # --- Claimed domains ---

    def do_claim_domain(self, request):
        return self._submit(request, "domain_form", DomainForm(request.POST),
                            lambda data: configuration.claim_domain(org=self.org, actor=self.membership, **data),
                            lambda _, claimed: f"Addresses at {claimed.domain} now sign in through your identity "
                                               "provider.", anchor="domains")

    def do_unclaim_domain(self, request):
        claimed = get_or_404(ClaimedDomain.objects.filter(org=self.org), "claimed domain",
                             domain=request.POST.get("domain", ""))
        configuration.unclaim_domain(claimed)
        messages.success(request, f"{claimed.domain} is no longer claimed.")
        return self.back("domains")

    def _submit(self, request, form_name: str, form, change, done, *, anchor: str):
        """A settings form: ``change(cleaned_data)`` when valid, then the
        ``done(cleaned_data, result)`` message and back to the page at ``anchor``;
        invalid or refused, the page again (400) with the errors at their fields."""
        if form.is_valid():
            try:
                result = change(form.cleaned_data)
            except configuration.ConfigurationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, done(form.cleaned_data, result))
                return self.back(anchor)
        return self.render(request, status=400, **{form_name: form})

    # --- The page ---

    def org_sso_or_404(self) -> OrgSSO:
        org_sso = configuration.org_sso(self.org)
        if org_sso is None:
            raise Http404("Single sign-on is not set up.")
        return org_sso

    def back(self, anchor: str = ""):
        url = reverse("settings_sso", kwargs={"org_slug": self.org.slug})
        return redirect(f"{url}#{anchor}" if anchor else url)

    def render(self, request, *, idp_form=None, roles_form=None, group_form=None, domain_form=None, status=200):
        org_sso = configuration.org_sso(self.org)
        context = self.get_context_data(
            nav="settings",
            settings_tab="sso",
            org_sso=org_sso,
            idp_form=idp_form or IdentityProviderForm(initial=IdentityProviderForm.initial_for(org_sso),
                                                      org_sso=org_sso),
            roles_form=roles_form or (RolesForm(initial={"default_role": org_sso.default_role,
                                                         "groups_claim": org_sso.groups_claim})
                                      if org_sso else None),
            group_form=group_form or GroupRoleForm(),
            domain_form=domain_form or DomainForm(),
            group_roles=[(group, dict(SSO_ROLE_CHOICES).get(role, role))
                         for group, role in sorted(org_sso.group_roles.items())] if org_sso else [],
            domains=ClaimedDomain.objects.filter(org=self.org),
            break_glass=BreakGlassSignIn.objects.filter(org=self.org).select_related("user")[:AUDIT_LIST_LENGTH],
            urls=provider_urls(org_sso) if org_sso else {},
        )
        return render(request, self.template_name, context, status=status)


def provider_urls(org_sso: OrgSSO) -> dict[str, str | None]:
    """The URLs of this app the identity provider is given, absolute from
    ``SITE_URL`` (the address the IdP can reach), for both protocols."""
    key = str(org_sso.public_id)
    site = settings.SITE_URL.rstrip("/")
    # The OpenID Connect provider's callback (orgs/sso/oidc/), named as allauth names a provider's callback.
    redirect_uri = site + reverse(f"{OIDC_PROVIDER}_callback", kwargs={"provider_id": key})
    metadata = sp_entity_id(org_sso)  # the SP is known by its metadata URL
    return {
        "oidc_redirect_uri": redirect_uri,
        "saml_acs": site + reverse("saml_acs", kwargs={"organization_slug": key}),
        "saml_entity_id": metadata,
        "saml_metadata": metadata,
    }


class SSOTestView(OwnerView):
    """Opened in a new tab by "Test connection": a sign-in at the IdP that
    signs nobody in and ends on the test report (``sign_in.PURPOSE_TEST``).

    A GET, as ``orgs.sso.views.start`` is: it changes nothing but this
    browser's pending sign-in state."""

    http_method_names = ["get"]

    def get(self, request, org_slug):
        org_sso = OrgSSO.objects.select_related("org").filter(org=self.org).first()
        if org_sso is None:
            messages.error(request, "Save an identity provider first, then test it.")
            return redirect("settings_sso", org_slug=self.org.slug)
        return sign_in.start(request, org_sso, purpose=sign_in.PURPOSE_TEST)


class SSOTestReportView(OwnerView):
    """What the identity provider sent in this browser's last test sign-in."""

    template_name = "sso/settings_test_report.html"
    http_method_names = ["get"]

    def get(self, request, org_slug):
        org_sso = configuration.org_sso(self.org)
        reports = request.session.get(sign_in.TEST_REPORTS_SESSION_KEY) or {}
        report = reports.get(str(org_sso.public_id)) if org_sso else None
        claims = sorted((report or {}).get("claims", {}).items())
        context = self.get_context_data(
            nav="settings", settings_tab="sso", org_sso=org_sso, report=report, claims=claims,
            role_label=dict(SSO_ROLE_CHOICES).get((report or {}).get("role"), ""),
            tested_at=parse_datetime(report["at"]) if report else None,
        )
        return render(request, self.template_name, context)
