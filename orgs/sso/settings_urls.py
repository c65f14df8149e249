"""Settings → Single sign-on, under ``/<org_slug>/settings/``."""

from django.urls import path

from orgs.sso import settings_views

urlpatterns = [
    path("sso/", settings_views.SSOSettingsView.as_view(), name="settings_sso"),
    path("sso/test/", settings_views.SSOTestView.as_view(), name="settings_sso_test"),
    path("sso/test/report/", settings_views.SSOTestReportView.as_view(), name="settings_sso_test_report"),
]
