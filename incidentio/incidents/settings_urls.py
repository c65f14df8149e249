"""Admin settings for the incident lifecycle, under ``/<org_slug>/settings/``."""

from django.urls import path

from incidentio.incidents.views import settings as views

urlpatterns = [
    path("statuses/", views.StatusesView.as_view(), name="settings_statuses"),
    path("severities/", views.SeveritiesView.as_view(), name="settings_severities"),
    path("incident-types/", views.IncidentTypesView.as_view(), name="settings_incident_types"),
    path("roles/", views.RolesView.as_view(), name="settings_roles"),
]
