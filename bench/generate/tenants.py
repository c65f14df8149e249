"""People and organizations, made the way the product makes them.

Users, their verified e-mail addresses and the memberships beyond each org's
first owner are bulk rows (COPY). Every organization is created with
``orgs.services.organization_create`` — the service behind "New organization"
— so its statuses, severities, roles, task templates and lifecycle rules are
exactly the product's defaults. The big org's API keys and Slack workspace
come from ``api_key_create`` (``manage.py create_api_key``) and
``slack_workspace_connect`` (``manage.py slack_connect``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.generate import scales as b
from bench.generate import words
from bench.generate.copy import copy_small, esc, ts
from bench.generate.model import Member, Org, Role, Severity, Status, Template

PASSWORD = "bench-password-1"
BIG_SLUG = "bigcorp"
BIG_NAME = "BigCorp"
SLACK_TEAM_ID = "TBENCH"
SLACK_BOT_TOKEN = "xoxb-bench"
SLACK_BOT_USER_ID = "UBENCHBOT"
API_KEY_NAME = "bench"
INTEGRATION_KEY_NAME = "Alerting integration"


@dataclass
class OrgSpec:
    slug: str
    name: str
    members: list[Member]  # members[0] is the owner the service makes a member
    big: bool = False


def _people(gen, domain: str, count: int, start: int, roles: list[str]) -> list[Member]:
    members = []
    for i in range(count):
        first = words.FIRST[i % len(words.FIRST)]
        last = words.LAST[(i // len(words.FIRST) + i) % len(words.LAST)]
        local = f"{first}.{last}".lower() + (f"{i // 1600}" if i >= 1600 else "")
        members.append(Member(user_id=start + i, email=f"{local}@{domain}", name=f"{first} {last}", role=roles[i]))
    return members


def big_org_roles(count: int) -> list[str]:
    """Owner first, then owners, admins, responders and viewers (about 1/4/75/20 %)."""
    viewers = max(1, round(count * 0.2))
    admins = max(1, round(count * 0.04))
    owners = 2 if count >= 50 else 1
    responders = count - viewers - admins - owners
    return ["owner"] * owners + ["admin"] * admins + ["responder"] * responders + ["viewer"] * viewers


def org_specs(gen, scale: b.Scale) -> list[OrgSpec]:
    specs = [OrgSpec(BIG_SLUG, BIG_NAME, _people(gen, "bigcorp.example", scale.members, 1,
                                                  big_org_roles(scale.members)), big=True)]
    next_user = scale.members + 1
    for n in range(1, scale.small_orgs + 1):
        size = gen.rng.choice((2, 3))
        roles = ["owner"] + [gen.pick(["admin", "responder", "responder", "viewer"]) for _ in range(size - 1)]
        slug = f"team-{n:03d}"
        specs.append(OrgSpec(slug, f"Team {n:03d}", _people(gen, f"{slug}.example", size, next_user, roles)))
        next_user += size
    return specs


def create(gen, scale: b.Scale) -> list[Org]:
    """Users, orgs (through the service), memberships, and the big org's keys and Slack."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from orgs.models import User
    from orgs.services import organization_create

    specs = org_specs(gen, scale)
    # Hashed once (every user shares it), with a salt from the seed so the rows are reproducible too.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    password = make_password(PASSWORD, salt="".join(gen.pick(alphabet) for _ in range(22)))
    joined = ts(gen.anchor - (b.HISTORY_DAYS + 30) * b.DAY)
    everyone = [m for spec in specs for m in spec.members]
    with transaction.atomic():
        cursor = connection.cursor().cursor  # the psycopg2 cursor, in Django's transaction
        # time_zone "": the browser's zone (orgs/time_zones.py), as for a person who never chose one.
        copy_small(cursor, "orgs_user", ["id", "password", "is_superuser", "is_staff", "is_active", "date_joined",
                                         "email", "name", "time_zone"],
                   ((str(m.user_id), esc(password), "f", "f", "t", joined, esc(m.email), esc(m.name), "")
                    for m in everyone))
        copy_small(cursor, "account_emailaddress", ["id", "email", "verified", "primary", "user_id"],
                   ((str(m.user_id), esc(m.email), "t", "t", str(m.user_id)) for m in everyone))
        owners = User.objects.in_bulk([spec.members[0].user_id for spec in specs])
        orgs = {}
        for spec in specs:
            orgs[spec.slug] = organization_create(name=spec.name, slug=spec.slug, owner=owners[spec.members[0].user_id])
        cursor.execute("SELECT coalesce(max(id), 0) FROM orgs_membership")
        next_id = cursor.fetchone()[0] + 1
        rows = []
        for spec in specs:
            for member in spec.members[1:]:
                rows.append((str(next_id), gen.uuid(), member.role, joined, str(member.user_id),
                             str(orgs[spec.slug].pk)))
                next_id += 1
        copy_small(cursor, "orgs_membership", ["id", "public_id", "role", "created_at", "user_id", "org_id"], rows)
        cursor.execute("UPDATE orgs_organization SET created_at = %s", [joined])
        cursor.execute("UPDATE orgs_membership SET created_at = %s", [joined])
        fixtures = _big_org_fixtures(gen, orgs[BIG_SLUG], specs[0], owners[specs[0].members[0].user_id], cursor)
        _deterministic_public_ids(gen, cursor)
    gen.fixtures.update(fixtures)
    return _read_back(gen, specs, orgs, fixtures)


def _big_org_fixtures(gen, org, spec: OrgSpec, owner, cursor) -> dict:
    from orgs.models import ApiKeyRole
    from orgs.services import api_key_create
    from slackbot.services import slack_workspace_connect

    key, token = api_key_create(org=org, name=API_KEY_NAME, roles=list(ApiKeyRole.values), created_by=owner)
    integration, _ = api_key_create(org=org, name=INTEGRATION_KEY_NAME,
                                    roles=[ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR], created_by=owner)
    slack_workspace_connect(org=org, team_id=SLACK_TEAM_ID, bot_token=SLACK_BOT_TOKEN, bot_user_id=SLACK_BOT_USER_ID,
                            team_name=BIG_NAME)
    # Most people in a workspace used for years are linked to their Slack user.
    linked = [m for m in spec.members if m is spec.members[0] or gen.rng.random() < 0.9]
    for member in linked:
        member.slack_id = f"U{member.user_id:08d}"
    joined = ts(gen.anchor - b.HISTORY_DAYS * b.DAY)
    copy_small(cursor, "slackbot_slackuserlink", ["id", "slack_user_id", "created_at", "org_id", "user_id"],
               ((str(i), m.slack_id, joined, str(org.pk), str(m.user_id)) for i, m in enumerate(linked, start=1)))
    return {"api_key": token, "api_key_pk": key.pk, "integration_key_pk": integration.pk, "big_org_pk": org.pk,
            "slack_links": len(linked)}


def _deterministic_public_ids(gen, cursor) -> None:
    """Services draw ``uuid4()``; give their rows ids from the seed so every id is reproducible."""
    from psycopg2.extras import execute_values

    for table in ("orgs_membership", "incidentio_incidentstatus", "incidentio_severity", "incidentio_incidentrole",
                  "learning_tasktemplate", "orgs_apikey"):
        cursor.execute(f"SELECT id FROM {table} ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        execute_values(cursor, f"UPDATE {table} AS t SET public_id = v.pid::uuid FROM (VALUES %s) AS v(id, pid) "
                       "WHERE t.id = v.id", [(pk, gen.uuid()) for pk in ids], page_size=2000)


def _read_back(gen, specs: list[OrgSpec], orgs: dict, fixtures: dict) -> list[Org]:
    """The configuration the services made, for every org, in a handful of queries."""
    from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType
    from incidentio.incidents.models import Severity as SeverityModel
    from learning.models import LearningFlow, LifecycleRules, TaskTemplate
    from orgs.models import ApiKey, Membership

    by_org: dict[int, dict] = {org.pk: {"statuses": [], "severities": [], "roles": [], "templates": {}}
                               for org in orgs.values()}
    for s in IncidentStatus.objects.order_by("rank", "pk"):
        by_org[s.org_id]["statuses"].append(s)
        gen.milestones[s.pk] = s.milestone
    for s in SeverityModel.objects.order_by("rank", "pk"):
        by_org[s.org_id]["severities"].append(Severity(s.pk, s.name, s.rank))
    for r in IncidentRole.objects.order_by("rank", "pk"):
        by_org[r.org_id]["roles"].append(Role(r.pk, str(r.public_id), r.name, r.kind))
    for t in TaskTemplate.objects.order_by("rank", "pk"):
        by_org[t.org_id]["templates"].setdefault(t.status_id, []).append(
            Template(t.pk, t.kind, t.title, t.instructions, t.required, t.assignee_role_id, t.target_role_id))
    rules = {r.org_id: r.auto_enter_min_severity.rank if r.auto_enter_min_severity else None
             for r in LifecycleRules.objects.filter(incident_type__is_default=True)
             .select_related("auto_enter_min_severity")}
    default_types = dict(IncidentType.objects.filter(is_default=True).values_list("org_id", "pk"))
    default_flows = dict(LearningFlow.objects.filter(is_default=True).values_list("org_id", "pk"))
    memberships = dict(Membership.objects.values_list("user_id", "public_id").filter(org__slug=BIG_SLUG))
    integration = ApiKey.objects.get(pk=fixtures["integration_key_pk"])
    result = []
    for spec in specs:
        model = orgs[spec.slug]
        data = by_org[model.pk]
        statuses = [Status(s.pk, str(s.public_id), s.name, s.category) for s in data["statuses"]]
        of = {c: [s for s in statuses if s.category == c] for c in
              ("triage", "live", "learning", "closed", "declined", "merged", "canceled")}
        roles = {r.kind: r for r in data["roles"]}
        org = Org(
            id=model.pk, slug=model.slug, name=model.name, triage=of["triage"][0], live=of["live"],
            learning=of["learning"], closed=of["closed"][0], declined=of["declined"][0], merged=of["merged"][0],
            canceled=of["canceled"][0], severities=data["severities"], auto_enter_rank=rules.get(model.pk),
            lead_role=roles["lead"], reporter_role=roles.get("reporter"), templates=data["templates"],
            members=spec.members, big=spec.big, default_type_id=default_types[model.pk],
            default_flow_id=default_flows[model.pk],
        )
        org.actors = [m for m in spec.members if m.role != "viewer"]
        if spec.big:
            org.slack_domain = BIG_SLUG
            org.integration = (f"API key “{integration.name}”", str(integration.public_id))
            for member in spec.members:
                member.membership_public_id = str(memberships[member.user_id])
        for member in spec.members:
            gen.members_by_id[member.user_id] = member
        result.append(org)
    return result
