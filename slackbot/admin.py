"""Django admin for support staff: the Slack outbox, to see what is stuck or failed."""

from django.contrib import admin

from incidentio.incidents.admin import ReadOnlyAdmin
from slackbot.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["kind", "org", "incident", "destination", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["org__slug", "text"]
    list_select_related = ["org", "incident"]
    show_full_result_count = False
