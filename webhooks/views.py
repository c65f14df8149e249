"""Settings → Webhooks (admins): endpoints, their secrets and delivery logs.

A signing secret is shown once: in the response to the POST that made it (adding
the endpoint, or regenerating its secret), never stored anywhere in clear, not
even in the session. Every other page shows only a hint of it (docs/webhooks.md).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from incidentio.common.errors import ServiceError, add_service_error
from orgs.views.base import AdminView
from webhooks import selectors, services
from webhooks.forms import EndpointForm


class WebhooksView(AdminView):
    template_name = "webhooks/settings.html"

    def get(self, request, org_slug):
        return self.render(request, EndpointForm())

    def post(self, request, org_slug):
        """Add an endpoint and show its secret, this once, in this response."""
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint = services.endpoint_create(
                    org=self.org,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    created_by=request.user,
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.render(request, EndpointForm(), new_endpoint=endpoint, status=201)
        return self.render(request, form, status=400)

    def render(self, request, form, *, new_endpoint=None, status=200):
        """The list; with ``new_endpoint``, the one time its secret is shown."""
        context = self.get_context_data(
            endpoints=list(selectors.endpoint_list(org=self.org)),
            form=form,
            new_endpoint=new_endpoint,
            new_secret=new_endpoint.secret if new_endpoint else None,
            nav="settings",
            settings_tab="webhooks",
        )
        response = render(request, self.template_name, context, status=status)
        if new_endpoint:
            add_never_cache_headers(response)  # the secret must not linger in a cache
        return response


def render_endpoint(view: AdminView, request, endpoint, *, new_secret: str | None = None, status: int = 200):
    """The endpoint's page; with ``new_secret``, the one time that secret is shown."""
    context = view.get_context_data(
        endpoint=endpoint,
        new_secret=new_secret,
        deliveries=selectors.delivery_log(endpoint=endpoint),
        log_size=selectors.DELIVERY_LOG_SIZE,
        nav="settings",
        settings_tab="webhooks",
    )
    response = render(request, "webhooks/endpoint.html", context, status=status)
    if new_secret:
        add_never_cache_headers(response)  # the secret must not linger in a cache
    return response


class _EndpointView(AdminView):
    def get_endpoint(self):
        return selectors.endpoint_get(org=self.org, public_id=self.kwargs["endpoint_id"])

    def http_method_not_allowed(self, request, *args, **kwargs):
        # 405 is for an endpoint of this org; another org's id is a 404 whatever the method.
        self.get_endpoint()
        return super().http_method_not_allowed(request, *args, **kwargs)


class EndpointView(_EndpointView):
    """One endpoint: a hint of its secret and its last deliveries."""

    http_method_names = ["get", "head"]

    def get(self, request, org_slug, endpoint_id):
        return render_endpoint(self, request, self.get_endpoint())


class EndpointSecretRegenerateView(_EndpointView):
    """A new signing secret, shown in this response only; the old one stops working at once."""

    http_method_names = ["post"]

    def post(self, request, org_slug, endpoint_id):
        endpoint = services.endpoint_secret_regenerate(endpoint=self.get_endpoint(), regenerated_by=request.user)
        return render_endpoint(self, request, endpoint, new_secret=endpoint.secret)


class EndpointEnableView(_EndpointView):
    http_method_names = ["post"]

    def post(self, request, org_slug, endpoint_id):
        endpoint = services.endpoint_enable(endpoint=self.get_endpoint())
        messages.success(request, f"{endpoint.url} is enabled again; new events will be sent to it.")
        return redirect("settings_webhook", org_slug=self.org.slug, endpoint_id=endpoint.public_id)


class EndpointDeleteView(_EndpointView):
    http_method_names = ["post"]

    def post(self, request, org_slug, endpoint_id):
        endpoint = self.get_endpoint()
        services.endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Webhook endpoint {endpoint.url} deleted.")
        return redirect("settings_webhooks", org_slug=self.org.slug)
