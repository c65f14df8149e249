from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """The incident domain. Its label stays ``incidentio`` (the app's name before
    it moved into this package), which keeps its tables, migrations and
    permissions as they are."""

    name = "incidentio.incidents"
    label = "incidentio"
    verbose_name = "Incidents"
