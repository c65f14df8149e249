"""Settings → API keys (admins): create, list and revoke the org's API keys.

A new key's token is shown once: in the response to the create POST itself,
never stored anywhere in clear (not even in the session). A reload shows the
list without it. The database keeps only the token's hash.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from incidentio.common.errors import add_service_error
from incidentio.common.lookups import get_or_404
from orgs import services
from orgs.models import API_KEY_ROLE_NAMES, ApiKey, ApiKeyRole, Organization
from orgs.views.base import AdminView


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="Who or what uses it, e.g. “Terraform” or “status page”.")
    roles = forms.MultipleChoiceField(
        choices=[(value, API_KEY_ROLE_NAMES[value][0]) for value in ApiKeyRole.values],
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKeyRole.VIEWER],
        error_messages={"required": "Give the key at least one role."},
    )


def _api_key_get(*, org: Organization, public_id) -> ApiKey:
    """A key of ``org``; the same 404 for a missing one and another org's."""
    return get_or_404(ApiKey.objects.filter(org=org), "API key", public_id=public_id)


class ApiKeysView(AdminView):
    template_name = "orgs/settings/api_keys.html"

    def get(self, request, org_slug):
        return self.render(request, ApiKeyForm())

    def post(self, request, org_slug):
        """Create a key and show its token, this once, in this response."""
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                key, token = services.api_key_create(
                    org=self.org,
                    name=form.cleaned_data["name"],
                    roles=form.cleaned_data["roles"],
                    created_by=request.user,
                )
            except services.ServiceError as exc:
                add_service_error(form, exc)
            else:
                new_key = {"id": str(key.public_id), "name": key.name, "token": token}
                return self.render(request, ApiKeyForm(), new_key=new_key, status=201)
        return self.render(request, form, status=400)

    def render(self, request, form, *, new_key=None, status=200):
        context = self.get_context_data(
            keys=ApiKey.objects.filter(org=self.org).select_related("created_by").order_by("-created_at", "-pk"),
            form=form,
            # Each role's checkbox with what it allows, beside its name.
            role_choices=[(choice, API_KEY_ROLE_NAMES[choice.data["value"]][1]) for choice in form["roles"]],
            new_key=new_key,
            nav="settings",
            settings_tab="api_keys",
        )
        response = render(request, self.template_name, context, status=status)
        if new_key:
            add_never_cache_headers(response)  # the token must not linger in a cache
        return response


class ApiKeyRevokeView(AdminView):
    http_method_names = ["post"]

    def get_key(self) -> ApiKey:
        return _api_key_get(org=self.org, public_id=self.kwargs["key_id"])

    def http_method_not_allowed(self, request, *args, **kwargs):
        # 405 is for a key of this org; another org's id is a 404 whatever the method.
        self.get_key()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def post(self, request, org_slug, key_id):
        key = services.api_key_revoke(key=self.get_key())
        messages.success(request, f"API key “{key.name}” revoked; requests using it are refused from now on.")
        return redirect("settings_api_keys", org_slug=self.org.slug)
