"""Settings → Webhooks, under ``/<org_slug>/settings/webhooks/``."""

from django.urls import path

from webhooks import views

endpoint = "<uuid:endpoint_id>/"

urlpatterns = [
    path("", views.WebhooksView.as_view(), name="settings_webhooks"),
    path(endpoint, views.EndpointView.as_view(), name="settings_webhook"),
    path(endpoint + "enable/", views.EndpointEnableView.as_view(), name="settings_webhook_enable"),
    path(
        endpoint + "secret/regenerate/",
        views.EndpointSecretRegenerateView.as_view(),
        name="settings_webhook_secret_regenerate",
    ),
    path(endpoint + "delete/", views.EndpointDeleteView.as_view(), name="settings_webhook_delete"),
]
