"""Every org gets one "Default" incident type, and every incident has it:
nothing changes for an org that ignores types."""

from django.db import migrations


def add_default_types(apps, schema_editor):
    Organization = apps.get_model("orgs", "Organization")
    IncidentType = apps.get_model("incidentio", "IncidentType")
    Incident = apps.get_model("incidentio", "Incident")
    for org in Organization.objects.all():
        default, _ = IncidentType.objects.get_or_create(
            org=org, is_default=True,
            defaults={"name": "Default", "description": "Incidents that are not of another type."},
        )
        Incident.objects.filter(org=org, incident_type__isnull=True).update(incident_type=default)


class Migration(migrations.Migration):
    dependencies = [("incidentio", "0005_incident_types_and_due_dates")]

    operations = [migrations.RunPython(add_default_types, migrations.RunPython.noop)]
