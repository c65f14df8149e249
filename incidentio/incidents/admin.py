"""Django admin for support staff: read-mostly views of every tenant's incidents.

Changes go through the product (services write the timeline); the admin only
looks, except for fixing a configuration name in an emergency.
"""

from django.contrib import admin

from incidentio.incidents.models import (
    Debrief,
    FollowUp,
    Incident,
    IncidentRole,
    IncidentStatus,
    Postmortem,
    Severity,
    TimelineEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    fields = ["occurred_at", "kind", "actor_kind", "actor_user", "actor_label", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "name", "org", "status", "severity", "learning_flow", "reported_at"]
    list_filter = ["status__category", "learning_flow"]
    search_fields = ["name", "org__slug", "public_id"]
    list_select_related = ["org", "status", "severity"]
    inlines = [TimelineInline]
    show_full_result_count = False  # COUNT(*) over every tenant's incidents is slow


@admin.register(IncidentStatus)
class IncidentStatusAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "category", "rank"]
    list_filter = ["category"]
    search_fields = ["name", "org__slug"]
    fields = ["org", "name", "description", "category", "rank", "milestone"]
    readonly_fields = ["org", "category", "rank", "milestone"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Severity)
class SeverityAdmin(IncidentStatusAdmin):
    list_display = ["name", "org", "rank"]
    list_filter = []
    fields = ["org", "name", "description", "rank"]
    readonly_fields = ["org", "rank"]


@admin.register(IncidentRole)
class IncidentRoleAdmin(IncidentStatusAdmin):
    list_display = ["name", "org", "kind", "required"]
    list_filter = ["kind"]
    fields = ["org", "name", "shortform", "instructions", "kind", "required"]
    readonly_fields = ["org", "kind"]


@admin.register(Postmortem)
class PostmortemAdmin(ReadOnlyAdmin):
    list_display = ["incident", "status", "shared_at", "updated_at"]
    list_select_related = ["incident"]


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ["title", "incident", "status", "priority", "assignee"]
    list_filter = ["status", "priority"]
    list_select_related = ["incident", "assignee"]


@admin.register(Debrief)
class DebriefAdmin(ReadOnlyAdmin):
    list_display = ["incident", "scheduled_at", "duration_minutes"]
    list_select_related = ["incident"]
