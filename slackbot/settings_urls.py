"""The Slack settings page, under ``/<org_slug>/settings/``."""

from django.urls import path

from slackbot.settings_views import SlackSettingsView

urlpatterns = [
    path("slack/", SlackSettingsView.as_view(), name="settings_slack"),
]
