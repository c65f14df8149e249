"""After the bulk load: sequences, reference counters, integrity checks,
statistics, and the manifest the benchmark reads."""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from urllib.parse import urlsplit

from bench.generate import scales as b
from bench.generate import tenants

#: Tables whose rows the generator wrote with COPY (foreign keys checked afterwards).
BULK_MODELS = [
    "incidentio.Incident", "incidentio.TimelineEvent", "learning.LearningTask", "incidentio.IncidentRoleAssignment",
    "incidentio.Postmortem", "incidentio.FollowUp", "slackbot.SlackMessage", "learning.LearningRun",
]
COUNTED = [
    "orgs_organization", "orgs_user", "account_emailaddress", "orgs_membership", "orgs_apikey",
    "incidentio_incidentstatus", "incidentio_severity", "incidentio_incidentrole", "incidentio_incidentcounter",
    "learning_tasktemplate", "learning_lifecyclerules", "slackbot_slackworkspace", "slackbot_slackuserlink",
    "incidentio_incident", "incidentio_incidentroleassignment", "incidentio_timelineevent", "learning_learningtask",
    "incidentio_postmortem", "incidentio_followup", "slackbot_slackmessage", "learning_learningstatusvisit",
    "learning_learningrun",
]


def is_superuser() -> bool:
    """Whether COPY may skip foreign-key triggers (``session_replication_role`` needs a superuser)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def reset_sequences_and_counters() -> None:
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection, transaction

    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
        cursor.execute(
            "UPDATE incidentio_incidentcounter AS c SET last_number = coalesce("
            "(SELECT max(number) FROM incidentio_incident AS i WHERE i.org_id = c.org_id), 0)"
        )
        # The learning statuses each incident went through, as the flow records them
        # (learning.LearningStatusVisit), from the timeline events that entered them.
        cursor.execute(
            "INSERT INTO learning_learningstatusvisit (incident_id, status_id, entered_at) "
            "SELECT e.incident_id, s.id, e.occurred_at FROM incidentio_timelineevent e "
            "JOIN incidentio_incident i ON i.id = e.incident_id "
            "JOIN incidentio_incidentstatus s ON s.org_id = i.org_id "
            "AND s.public_id::text = coalesce(e.data->>'status_id', e.data->>'to_id') "
            "WHERE e.kind IN ('learning_flow_entered', 'learning_status_changed') ON CONFLICT DO NOTHING"
        )
        # When each incident left them, as the flow records it: the statement
        # the migration that added the column ran over existing visits.
        cursor.execute(import_module("learning.migrations.0009_visit_left_at").BACKFILL_LEFT_AT)


def verify_foreign_keys() -> None:
    """COPY ran without foreign-key triggers: prove every reference resolves."""
    from django.apps import apps
    from django.db import connection

    problems = []
    with connection.cursor() as cursor:
        for label in BULK_MODELS:
            model = apps.get_model(label)
            for field in model._meta.concrete_fields:
                if not field.is_relation:
                    continue
                target = field.related_model._meta
                table, column = model._meta.db_table, field.column
                cursor.execute(
                    f"SELECT count(*) FROM {table} AS c LEFT JOIN {target.db_table} AS p "
                    f"ON p.{target.pk.column} = c.{column} WHERE c.{column} IS NOT NULL AND p.{target.pk.column} IS NULL"
                )
                missing = cursor.fetchone()[0]
                if missing:
                    problems.append(f"{table}.{column}: {missing} rows point nowhere")
    if problems:
        raise RuntimeError("generated rows break foreign keys: " + "; ".join(problems))


def vacuum_analyze(database_url: str) -> None:
    """Statistics for the planner, and hint bits / visibility map set now rather than by the first readers."""
    import psycopg2

    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    finally:
        connection.close()


def _rows(sql: str, params=()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def manifest(gen, orgs, *, database_url: str, scale: str, seed: int, anchor: datetime) -> dict:
    from learning.models import LifecycleRules
    from orgs.models import ApiKey, ApiKeyRole
    from slackbot.models import SlackWorkspace

    big = next(org for org in orgs if org.big)
    owner = big.members[0]
    designated = gen.designated
    counts = {table: _rows(f"SELECT count(*) FROM {table}")[0][0] for table in COUNTED}
    by_state = dict(_rows(
        "SELECT s.category || ' / ' || i.learning_flow, count(*) FROM incidentio_incident i "
        "JOIN incidentio_incidentstatus s ON s.id = i.status_id WHERE i.org_id = %s GROUP BY 1 ORDER BY 1", [big.id]))
    by_status = dict(_rows(
        "SELECT s.name, count(*) FROM incidentio_incident i JOIN incidentio_incidentstatus s ON s.id = i.status_id "
        "WHERE i.org_id = %s GROUP BY 1 ORDER BY 1", [big.id]))
    task_states = dict(_rows(
        "SELECT state, count(*) FROM learning_learningtask WHERE org_id = %s GROUP BY 1 ORDER BY 1", [big.id]))
    big_counts = {
        "incidents": _rows("SELECT count(*) FROM incidentio_incident WHERE org_id = %s", [big.id])[0][0],
        "timeline_events": _rows(
            "SELECT count(*) FROM incidentio_timelineevent e JOIN incidentio_incident i ON i.id = e.incident_id "
            "WHERE i.org_id = %s", [big.id])[0][0],
        "learning_tasks": sum(task_states.values()),
        "members": len(big.members),
    }
    assignee_tasks = dict(_rows(
        "SELECT state, count(*) FROM learning_learningtask WHERE org_id = %s AND assignee_id = %s GROUP BY 1",
        [big.id, designated.user_id]))
    rules = LifecycleRules.objects.select_related("auto_enter_min_severity").get(
        incident_type__org_id=big.id, incident_type__is_default=True)
    key = ApiKey.objects.get(pk=gen.fixtures["api_key_pk"])
    workspace = SlackWorkspace.objects.get(org_id=big.id)
    timeline = gen.fixtures["timeline"]
    deep_row = min(90_000, int(big_counts["incidents"] * 0.9))
    deep_after = _rows("SELECT number FROM incidentio_incident WHERE org_id = %s ORDER BY number DESC "
                       "OFFSET %s LIMIT 1", [big.id, deep_row - 1])[0][0]
    first, second = big.learning[0], (big.learning[1] if len(big.learning) > 1 else None)
    late = _rows("SELECT count(*) FROM incidentio_timelineevent WHERE occurred_at > %s", [anchor])[0][0]
    return {
        "scale": scale,
        "seed": seed,
        "anchor": anchor.isoformat(),
        "database": urlsplit(database_url).path.lstrip("/"),
        "password": tenants.PASSWORD,
        "org": {"slug": big.slug, "name": big.name, "id": big.id, **big_counts},
        "small_orgs": {"count": len(orgs) - 1, "slugs_example": [o.slug for o in orgs[1:4]]},
        "counts": counts,
        "big_org_incidents_by_category_and_flow": by_state,
        "big_org_incidents_by_status": by_status,
        "big_org_tasks_by_state": task_states,
        "api": {
            "key": gen.fixtures["api_key"],
            "key_id": str(key.public_id),
            "key_roles": list(key.roles),
            "header": "Authorization: Bearer <key>",
            "incidents_list": "/api/v2/incidents?page_size=25",
            "incident": "/api/v2/incidents/{incident_id}",
            "learning_tasks_for_assignee": f"/api/v2/learning_tasks?assignee_id={designated.membership_public_id}",
            "close_incident": {
                "method": "POST", "path": "/api/v2/incidents/{incident_id}/actions/close",
                "body": {"learning_flow": "run"},
                "notes": "JSON body. learning_flow may be omitted for burst incidents (their severity makes the "
                         "rules require the flow); 'run' is explicit and works for any live incident. Needs the "
                         "incident_editor role; answers 200 with the incident.",
            },
            "complete_task": {"method": "POST", "path": "/api/v2/learning_tasks/{task_id}/actions/complete",
                              "body": {}, "notes": "incident_editor role; the advance happens after commit "
                                                   "(Celery advance_incident)."},
            "deep_page": {
                "row": deep_row, "after_number": deep_after,
                "notes": "The cursor is signed with the server's SECRET_KEY: encode_cursor(list_kind('incidents', "
                         "QueryDict('page_size=25')), after_number) from incidentio.api.pagination.",
            },
        },
        "slack": {
            "team_id": workspace.team_id, "bot_token": workspace.bot_token, "bot_user_id": workspace.bot_user_id,
            "channel_pattern": "C{number:09d} (every big-org incident has its own channel)",
            "user_links": gen.fixtures["slack_links"], "user_id_pattern": "U{user pk:08d}",
            "task_messages": counts["slackbot_slackmessage"],
        },
        "dashboard": {
            "member_email": owner.email, "member_role": owner.role, "password": tenants.PASSWORD,
            "login_url": "/accounts/login/", "incidents_url": f"/{big.slug}/incidents/",
            "my_tasks_url": f"/{big.slug}/tasks/",
        },
        "timeline_incident": {
            **timeline, "reference": f"INC-{timeline['number']}",
            "url": f"/{big.slug}/incidents/{timeline['incident_id']}/",
        },
        "assignee": {
            "email": designated.email, "name": designated.name, "password": tenants.PASSWORD,
            "member_id": designated.membership_public_id, "user_pk": designated.user_id,
            "tasks": sum(assignee_tasks.values()), "tasks_by_state": assignee_tasks,
            "notes": "member_id is what the API's assignee_id filter takes (the e-mail works too).",
        },
        "flow": {"first_status": first.name, "next_status": second.name if second else "Closed"},
        "flow_incidents": gen.fixtures.get("flow", []),
        "burst": {
            "status": big.live[-1].name, "severity": next(s.name for s in big.severities if s.rank == big.auto_enter_rank),
            "auto_enter_min_severity": rules.auto_enter_min_severity.name if rules.auto_enter_min_severity else None,
            "otherwise": rules.otherwise,
        },
        "burst_incidents": gen.fixtures.get("burst", []),
        "checks": {"timeline_events_after_anchor": late, "all_api_roles": sorted(ApiKeyRole.values) == sorted(key.roles)},
        "windows_days": {bucket: window[:2] for bucket, window in b.WINDOWS.items()},
    }
