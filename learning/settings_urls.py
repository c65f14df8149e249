"""The learning-flow settings page, under ``/<org_slug>/settings/``."""

from django.urls import path

from learning.due_settings_views import FollowUpDueSettingsView
from learning.settings_views import LearningSettingsView

urlpatterns = [
    path("learning/", LearningSettingsView.as_view(), name="settings_learning"),
    path("follow-up-due-dates/", FollowUpDueSettingsView.as_view(), name="settings_follow_up_due"),
]
