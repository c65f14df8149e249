"""Django admin for support staff: the learning flow, read-only."""

from django.contrib import admin

from incidentio.incidents.admin import ReadOnlyAdmin
from learning.models import LearningTask, LifecycleRules, TaskTemplate


@admin.register(TaskTemplate)
class TaskTemplateAdmin(ReadOnlyAdmin):
    list_display = ["title", "org", "status", "kind", "required", "assignee_role"]
    list_filter = ["kind", "required"]
    search_fields = ["title", "org__slug"]
    list_select_related = ["org", "status", "assignee_role"]


@admin.register(LearningTask)
class LearningTaskAdmin(ReadOnlyAdmin):
    list_display = ["title", "incident", "status", "state", "assignee", "completed_automatically"]
    list_filter = ["state", "kind", "completed_automatically"]
    search_fields = ["title", "incident__name"]
    list_select_related = ["incident", "status", "assignee"]
    show_full_result_count = False


@admin.register(LifecycleRules)
class LifecycleRulesAdmin(ReadOnlyAdmin):
    list_display = ["org", "auto_enter_min_severity", "otherwise"]
    list_select_related = ["org", "auto_enter_min_severity"]
