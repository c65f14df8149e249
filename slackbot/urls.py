from django.urls import path

from slackbot import oauth, views

urlpatterns = [
    path("events", views.events, name="slack_events"),
    path("install", oauth.install, name="slack_install"),
    path("oauth_redirect", oauth.oauth_redirect, name="slack_oauth_redirect"),
]
