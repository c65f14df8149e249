"""The learning-flow settings pages, under ``/<org_slug>/settings/``."""

from django.urls import path

from learning.digest_settings_views import DigestSettingsView
from learning.due_settings_views import FollowUpDueSettingsView
from learning.reminder_settings_views import ReminderSettingsView
from learning.settings_views import LearningSettingsView

urlpatterns = [
    path("learning/", LearningSettingsView.as_view(), name="settings_learning"),
    path("digests/", DigestSettingsView.as_view(), name="settings_digests"),
    path("reminders/", ReminderSettingsView.as_view(), name="settings_reminders"),
    path("follow-up-due-dates/", FollowUpDueSettingsView.as_view(), name="settings_follow_up_due"),
]
