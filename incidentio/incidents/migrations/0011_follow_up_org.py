"""Follow-ups carry their incident's org, so Insights counts an org's
follow-ups from their own indexes (docs/insights.md). Existing rows take
their incident's org. The org-and-status index of incidents also holds
their id, so Insights reads the excluded incidents from it alone."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidentio", "0010_incident_insights_idx"),
        ("orgs", "0005_org_working_calendar"),
    ]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="org",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="follow_ups", to="orgs.organization"),
        ),
        migrations.RunSQL(
            "UPDATE incidentio_followup f SET org_id = i.org_id FROM incidentio_incident i WHERE i.id = f.incident_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="followup",
            name="org",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="follow_ups",
                                    to="orgs.organization"),
        ),
        migrations.RemoveIndex(model_name="incident", name="incident_org_status_idx"),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["org", "status", "-number"], include=("id",), name="incident_org_status_idx"),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(condition=models.Q(("status", "outstanding")), fields=["org", "created_at"],
                               include=("priority", "incident"), name="follow_up_org_open_idx"),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(fields=["org", "created_at"], include=("incident",), name="follow_up_org_created_idx"),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(condition=models.Q(("status", "completed")), fields=["org", "completed_at"],
                               include=("due_at", "incident"), name="follow_up_org_completed_idx"),
        ),
    ]
