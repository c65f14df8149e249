"""Every org's learning configuration becomes its default flow: the flow's
statuses are the org's learning statuses in their order, its templates are
the org's templates, the org's lifecycle rules become those of its default
incident type, and every incident that entered the flow runs that flow. No
incident, task or timeline event changes."""

from django.db import migrations
from django.db.models import Min


def to_default_flows(apps, schema_editor):
    Organization = apps.get_model("orgs", "Organization")
    IncidentStatus = apps.get_model("incidentio", "IncidentStatus")
    IncidentType = apps.get_model("incidentio", "IncidentType")
    LearningFlow = apps.get_model("learning", "LearningFlow")
    LearningFlowStatus = apps.get_model("learning", "LearningFlowStatus")
    TaskTemplate = apps.get_model("learning", "TaskTemplate")
    LifecycleRules = apps.get_model("learning", "LifecycleRules")
    LearningStatusVisit = apps.get_model("learning", "LearningStatusVisit")
    LearningRun = apps.get_model("learning", "LearningRun")
    for org in Organization.objects.all():
        flow = LearningFlow.objects.create(
            org=org, name="Default", is_default=True,
            description="The flow of every incident type that does not have one of its own.",
        )
        statuses = IncidentStatus.objects.filter(org=org, category="learning").order_by("rank", "pk")
        LearningFlowStatus.objects.bulk_create(
            LearningFlowStatus(flow=flow, status=status, rank=rank) for rank, status in enumerate(statuses)
        )
        TaskTemplate.objects.filter(org=org).update(flow=flow)
        default_type = IncidentType.objects.get(org=org, is_default=True)
        rules = LifecycleRules.objects.filter(org=org).first()
        if rules is None:
            # No row used to mean "ask whoever closes it": the defaults say the same.
            LifecycleRules.objects.create(org=org, incident_type=default_type)
        else:
            rules.incident_type = default_type
            rules.save(update_fields=["incident_type"])
        entered = (
            LearningStatusVisit.objects.filter(incident__org=org)
            .values("incident_id").annotate(first=Min("entered_at"))
        )
        LearningRun.objects.bulk_create(
            LearningRun(incident_id=row["incident_id"], flow=flow, entered_at=row["first"]) for row in entered
        )


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0004_flows_per_type_and_policies"),
        ("incidentio", "0006_default_incident_type"),
    ]

    operations = [migrations.RunPython(to_default_flows, migrations.RunPython.noop)]
