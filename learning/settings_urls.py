"""The learning-flow settings page, under ``/<org_slug>/settings/``."""

from django.urls import path

from learning.reminder_settings_views import ReminderSettingsView
from learning.settings_views import LearningSettingsView

urlpatterns = [
    path("learning/", LearningSettingsView.as_view(), name="settings_learning"),
    path("reminders/", ReminderSettingsView.as_view(), name="settings_reminders"),
]
