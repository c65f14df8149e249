"""Admin-only settings pages: the organization itself and its members."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from incidentio.common import form_failures
from incidentio.common.errors import add_service_error
from incidentio.common.text import full_stop
from orgs import selectors, services
from orgs.forms import InvitationForm, OrganizationRenameForm, RoleForm
from orgs.models import Role
from orgs.views.base import AdminView


class GeneralSettingsView(AdminView):
    template_name = "orgs/settings/general.html"

    def get(self, request, org_slug):
        form = OrganizationRenameForm(initial={"name": self.org.name})
        return self.render(request, form)

    def post(self, request, org_slug):
        form = OrganizationRenameForm(request.POST)
        if form.is_valid():
            try:
                services.organization_rename(org=self.org, name=form.cleaned_data["name"])
            except services.ServiceError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, "Organization name saved.")
                return redirect("settings_general", org_slug=self.org.slug)
        return self.render(request, form, status=400)

    def render(self, request, form, status=200):
        context = self.get_context_data(form=form, nav="settings", settings_tab="general")
        return render(request, self.template_name, context, status=status)


class MembersView(AdminView):
    template_name = "orgs/settings/members.html"

    def get(self, request, org_slug):
        return self.render(request, InvitationForm(), failure=form_failures.take(request))

    def post(self, request, org_slug):
        """Invite someone by e-mail."""
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation, _token = services.invitation_create(
                    actor=self.membership,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except services.ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("settings_members", org_slug=self.org.slug)
        return self.render(request, form, status=400)

    def render(self, request, invite_form, status=200, failure=None):
        context = self.get_context_data(
            failure=failure,
            members=selectors.membership_list(org=self.org),
            invitations=selectors.invitation_list_pending(org=self.org),
            invite_form=invite_form,
            roles=Role.choices,
            nav="settings",
            settings_tab="members",
        )
        return render(request, self.template_name, context, status=status)


class MemberRoleView(AdminView):
    http_method_names = ["post"]

    def post(self, request, org_slug, member_id):
        member = selectors.membership_get(org=self.org, public_id=member_id)
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.refuse(["Choose one of the roles in the list."])
        try:
            services.membership_change_role(
                actor=self.membership, membership=member, role=form.cleaned_data["role"]
            )
        except services.ServiceError as exc:
            return self.refuse([str(exc)])  # the form's one field: its refusal shows beside it
        messages.success(request, f"{member.user.email} is now {member.get_role_display()}.")
        return redirect("settings_members", org_slug=self.org.slug)

    def refuse(self, errors: list[str]):
        """Back to the members page, the error next to this member's role (post/redirect/get)."""
        return form_failures.refuse(
            self.request, to=reverse("settings_members", kwargs={"org_slug": self.org.slug}),
            errors={"role": errors}, shown={"role"}, anchor=f"member-{self.kwargs['member_id']}",
        )


class MemberRemoveView(AdminView):
    http_method_names = ["post"]

    def post(self, request, org_slug, member_id):
        member = selectors.membership_get(org=self.org, public_id=member_id)
        try:
            services.membership_remove(actor=self.membership, membership=member)
        except services.ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{member.user.email} was removed from {full_stop(self.org.name)}")
        return redirect("settings_members", org_slug=self.org.slug)


class InvitationRevokeView(AdminView):
    http_method_names = ["post"]

    def post(self, request, org_slug, invitation_id):
        invitation = selectors.invitation_get(org=self.org, public_id=invitation_id)
        try:
            services.invitation_revoke(invitation=invitation)
        except services.ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Invitation for {invitation.email} withdrawn.")
        return redirect("settings_members", org_slug=self.org.slug)
