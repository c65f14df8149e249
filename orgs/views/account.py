"""Identity pages: preferences, signing out, adding and creating organizations."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from incidentio.common.errors import add_service_error
from incidentio.common.text import full_stop
from orgs import services, sessions, time_zones
from orgs.calendar import time_zone_names
from orgs.forms import AddOrganizationForm, OrganizationCreateForm, ProfileForm, TimeZonePreferenceForm
from orgs.views.base import OrgView


class PreferencesView(OrgView):
    """The signed-in identity's profile, time zone and password, and leaving the org."""

    template_name = "orgs/preferences.html"

    def get(self, request, org_slug):
        return self.render(
            request,
            ProfileForm(initial={"name": request.user.name}),
            PasswordChangeForm(request.user),
        )

    def post(self, request, org_slug):
        action = request.POST.get("action")
        profile_form = ProfileForm(initial={"name": request.user.name})
        password_form = PasswordChangeForm(request.user)
        time_zone_form = None
        if action == "time_zone":
            time_zone_form = TimeZonePreferenceForm(request.POST)
            if time_zone_form.is_valid():
                try:
                    services.user_update_time_zone(user=request.user, **time_zone_form.cleaned_data)
                except services.ServiceError as exc:
                    add_service_error(time_zone_form, exc)
                else:
                    zone = request.user.time_zone
                    messages.success(request, f"Times are shown in {zone} now." if zone
                                     else "Times are shown in your browser's time zone now.")
                    return redirect("preferences", org_slug=self.org.slug)
        elif action == "profile":
            profile_form = ProfileForm(request.POST)
            if profile_form.is_valid():
                services.user_update_profile(user=request.user, name=profile_form.cleaned_data["name"])
                messages.success(request, "Profile saved.")
                return redirect("preferences", org_slug=self.org.slug)
        elif action == "password":
            password_form = PasswordChangeForm(request.user, request.POST)
            if password_form.is_valid():
                user = password_form.save()
                # This browser stays signed in; every other browser's sessions end.
                sessions.refresh_hashes(request, user=user)
                messages.success(request, "Password changed. Other browsers were signed out.")
                return redirect("preferences", org_slug=self.org.slug)
        elif action == "slack_unlink":
            from slackbot.links import slack_unlink

            if slack_unlink(org=self.org, user=request.user):
                messages.success(request, "Your Slack account is unlinked.")
            return redirect("preferences", org_slug=self.org.slug)
        else:
            messages.error(request, "Unknown action.")
        return self.render(request, profile_form, password_form, status=400, time_zone_form=time_zone_form)

    def render(self, request, profile_form, password_form, status=200, time_zone_form=None):
        from slackbot.links import slack_link_for

        link = slack_link_for(org=self.org, user=request.user)
        time_zone_form = time_zone_form or TimeZonePreferenceForm()
        context = self.get_context_data(
            profile_form=profile_form, password_form=password_form, nav="preferences",
            slack_link=link, slack_workspace=getattr(self.org, "slack_workspace", None) if link else None,
            time_zone_form=time_zone_form, time_zones=[(name, name) for name in time_zone_names()],
            selected_zone=request.user.time_zone, detected_zone=time_zones.browser_zone(request),
        )
        return render(request, self.template_name, context, status=status)


class LeaveOrganizationView(OrgView):
    http_method_names = ["post"]

    def post(self, request, org_slug):
        try:
            services.membership_leave(membership=self.membership)
        except services.ServiceError as exc:
            messages.error(request, str(exc))
            return redirect("preferences", org_slug=self.org.slug)
        sessions.sign_out_of_org(request, org_slug=self.org.slug)
        messages.success(request, f"You left {full_stop(self.org.name)}")
        return redirect("home")


class SignOutOfOrgView(OrgView):
    http_method_names = ["post"]

    def post(self, request, org_slug):
        sessions.sign_out_of_org(request, org_slug=self.org.slug)
        messages.success(request, f"Signed out of {full_stop(self.org.name)}")
        return redirect("home")


@require_POST
def sign_out_everywhere(request):
    sessions.sign_out_everywhere(request)
    return redirect("account_login")


@require_http_methods(["GET", "POST"])
def add_organization(request):
    """``+ Add organization``: sign in for another org, keeping the current ones.

    ``?from=<slug>`` names the org the person came from (the avatar menu sets
    it), for the "Back to" link; ``?org=<slug>`` starts the page for one org,
    filling it in. Neither is trusted: ``from`` counts only when this browser
    holds that org, and ``org`` only prefills a field that is checked on post.
    """
    held = sessions.usable_memberships(request)
    came_from = request.POST.get("from") or request.GET.get("from")
    back = next((m for m in held if m.org.slug == came_from), None) or sessions.landing_membership(request, held=held)
    target = AddOrganizationForm.valid_slug(request.GET.get("org", ""))
    form = AddOrganizationForm(request.POST or None, initial={"slug": target or ""})
    if request.method == "POST" and form.is_valid():
        next_url = reverse("org_home", kwargs={"org_slug": form.cleaned_data["slug"]})
        return redirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")
    context = {"form": form, "held": held, "back": back, "target": target}
    return render(request, "orgs/add_organization.html", context, status=400 if form.errors else 200)


def _create_organization(request, *, creator, template_context):
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(
                name=form.cleaned_data["name"], slug=form.cleaned_data["slug"], owner=creator
            )
        except services.ServiceError as exc:
            add_service_error(form, exc)
        else:
            # Bound as a password session, never an SSO one: the new org has no IdP yet,
            # and the creator is the account identity or an org identity that did not
            # sign in through SSO (``_may_act_beyond_org``).
            sessions.bind(request, org_slug=org.slug, user=creator, via=sessions.VIA_PASSWORD)
            messages.success(request, f"{org.name} is ready. Invite your team from Settings → Members.")
            return redirect("org_home", org_slug=org.slug)
    status = 400 if form.errors else 200
    return render(
        request, "orgs/organization_create.html", {"form": form, **template_context}, status=status
    )


def _may_act_beyond_org(request, org_slug: str) -> bool:
    """Whether this org's identity may act outside the org: it did not sign in
    through single sign-on, or it is the account identity all the same
    (``orgs.sso.sign_in.may_become_account_identity`` allowed it)."""
    held = sessions.held_session(request, org_slug)
    return held.via != sessions.VIA_SSO or request.session.get(SESSION_KEY) == str(held.user_id)


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request):
    """Create an organization as the account identity (e.g. right after sign-up)."""
    return _create_organization(request, creator=request.user, template_context={})


class OrganizationCreateInOrgView(OrgView):
    """Create an organization from the dashboard, as this org's identity.

    Not from an org session signed in through single sign-on, unless that
    person is also this browser's account identity: the org's IdP vouches for
    its own org only, and a new org owned by the person (with their verified
    domain claimed, its own IdP) would reach beyond it (docs/sso.md).
    """

    def get(self, request, org_slug):
        if not _may_act_beyond_org(request, org_slug):
            refusal = (f"You are signed in to {self.org.name} through its single sign-on. "
                       "Sign in with your password to create an organization.")
            return render(request, "orgs/organization_create.html",
                          {"refusal": refusal, **self.get_context_data()}, status=403)
        return _create_organization(request, creator=request.user, template_context=self.get_context_data())

    post = get
