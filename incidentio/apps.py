from django.apps import AppConfig


class IncidentioConfig(AppConfig):
    name = "incidentio"
    verbose_name = "Incidents"
