"""Insights pages under ``/<org_slug>/insights/``."""

from django.urls import path

from insights import views

urlpatterns = [
    path("", views.InsightsView.as_view(), name="insights"),
    path("<slug:panel>/<slug:chart_id>.csv", views.InsightCsvView.as_view(), name="insights_csv"),
]
