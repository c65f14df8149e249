"""Django admin for support staff: endpoints and their deliveries, read-only
(the secret is never shown here)."""

from django.contrib import admin

from incidentio.incidents.admin import ReadOnlyAdmin
from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "org", "is_active", "consecutive_failures", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["org__slug", "url"]
    list_select_related = ["org"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event_type", "endpoint", "state", "attempts", "last_status_code", "created_at", "delivered_at"]
    list_filter = ["state", "event_type"]
    search_fields = ["endpoint__org__slug", "endpoint__url", "event_id"]
    list_select_related = ["endpoint"]
    show_full_result_count = False
