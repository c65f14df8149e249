"""Every page the URLconf serves to a member, as GET paths with real objects.

``seed_pages()`` builds one organization with something on every page (an
incident in each state, a learning flow running with its tasks, follow-ups, a
post-mortem, a webhook endpoint, API keys, members and a pending invitation)
and returns the pages to open. ``unlisted_routes()`` walks the URLconf: a
GET-able route under ``/<org_slug>/`` or among the account pages that is
neither listed here nor excluded in ``EXCLUDED`` (with the reason) is
reported, so a new page cannot be left out of the phone and accessibility
checks (tests/browser/test_pages_browser.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from incidentio.common.actors import Actor
from incidentio.incidents.demo.story import seed_demo_incidents
from incidentio.incidents.models import Debrief, FollowUp, Incident, StatusCategory
from incidentio.incidents.services import incidents
from orgs import services as org_services
from orgs.models import Role
from orgs.sso.models import BreakGlassSignIn, ClaimedDomain, OrgSSO, Protocol
from slackbot.links import make_link_token
from slackbot.services import slack_workspace_connect
from tests.factories import MembershipFactory, UserFactory
from webhooks.models import WebhookEventType
from webhooks.services import endpoint_create

#: The member every signed-in page is opened as: the owner, so Settings shows too.
OWNER_EMAIL = "olivia.owner@example.com"
ORG_SLUG = "acme"
SLACK_TEAM = "T0PAGES01"

#: Routes under the checked prefixes that are deliberately not opened, with the reason.
EXCLUDED: dict[str, str] = {
    "sign_out_everywhere": "POST only",
    "debrief_invite": "a download (.ics calendar file), not a page",
    "insights_csv": "a download (CSV), not a page",
    "account_logout": "signs out: the dashboard posts to it from the avatar menu",
    "account_inactive": "only for deactivated users, whom the dashboard never creates",
    "account_reauthenticate": "a sensitive-action prompt; no page of the dashboard asks for it",
    "account_request_reauthentication_code": "login by code is off (ACCOUNT_LOGIN_BY_CODE_ENABLED)",
    "account_confirm_reauthentication_code": "login by code is off (ACCOUNT_LOGIN_BY_CODE_ENABLED)",
    "account_confirm_login_code": "login by code is off (ACCOUNT_LOGIN_BY_CODE_ENABLED)",
    "account_email": "allauth's e-mail management; the dashboard links to Preferences instead",
    "account_change_password": "allauth's stock page; the dashboard does not link to it",
    "account_set_password": "only for accounts without a password (none: sign-up requires one)",
    "account_confirm_email": "needs the key sent by e-mail; covered by tests/orgs/ sign-up tests",
    "account_reset_password_from_key": "needs the key sent by e-mail; covered by allauth's own tests",
    "account_reset_password_from_key_done": "shown only after a reset from an e-mailed key",
    "settings_sso_test": "starts a test sign-in at the org's identity provider: leaves the site",
    "sso_start": "starts a sign-in at the org's identity provider: leaves the site (tests/sso/test_*_browser.py)",
    "org_oidc_login": "a 404: a sign-in starts at sso_start, which names the org it is for",
    "org_oidc_callback": "the identity provider's answer; needs a sign-in started at the IdP (tests/sso/)",
    "sso_saml_finish_acs": "the second half of saml_acs, reached only from it",
    "sso_saml_acs": "the identity provider's posted SAML answer (tests/sso/test_saml.py)",
    "sso_saml_no_sls": "a 404: single logout is not offered (tests/sso/test_review_fixc.py)",
    "sso_saml_metadata": "XML for the identity provider, not a page (tests/sso/test_saml.py)",
    "sso_saml_login": "a redirect to sso_start, which leaves the site (tests/sso/test_saml.py)",
    "socialaccount_login_cancelled": "allauth's page; SSO answers always end on our own pages (orgs/sso/sign_in.py)",
    "socialaccount_login_error": "allauth's page; SSO answers always end on our own pages (orgs/sso/sign_in.py)",
    "socialaccount_signup": "allauth's social sign-up, never reached: orgs/sso decides every SSO sign-in",
    "socialaccount_connections": "allauth's page; an account's SSO links are the IdPs', the dashboard never links it",
    "sso_break_glass_confirm": "needs the token sent by e-mail; covered by tests/sso/test_break_glass.py",
}

#: The parts of the URLconf this list must cover: the org's dashboard and the account pages.
CHECKED_PREFIXES = ("<slug:org_slug>/", "account/", "accounts/", "organizations/", "invitations/")


@dataclass(frozen=True)
class Page:
    """One page to open: ``name`` names it in reports, ``route`` is its URL name."""

    name: str
    route: str
    path: str
    signed_in: bool = True


def _routes(patterns=None, prefix: str = ""):
    """(full route, URL name, view) of every pattern in the URLconf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name, pattern.callback


def _answers_get(view) -> bool:
    """False only when the view cannot answer GET: a class-based view without ``get``.

    Function views may answer anything, so they count as GET-able and must be
    listed or excluded by hand.
    """
    view_class = getattr(view, "view_class", None)
    return view_class is None or hasattr(view_class, "get")


def checked_routes() -> dict[str, str]:
    """URL name → route of every GET-able route under ``CHECKED_PREFIXES``."""
    found = {}
    for route, name, view in _routes():
        # allauth's unnamed legacy aliases (accounts/social/… of accounts/3rdparty/…) count under their names.
        if name is None and route.startswith("accounts/social/"):
            continue
        if route.startswith(CHECKED_PREFIXES) and _answers_get(view):
            found[name] = route
    return found


def unlisted_routes(pages: list[Page]) -> list[str]:
    """Problems: GET-able routes neither listed nor excluded, and stale names in either list."""
    routes = checked_routes()
    listed = {page.route for page in pages}
    problems = [
        f"{route} (name {name!r}) is neither in tests/browser/pages.py's pages nor in EXCLUDED"
        for name, route in sorted(routes.items()) if name not in listed and name not in EXCLUDED
    ]
    problems += [f"EXCLUDED names {name!r}, which the URLconf no longer serves" for name in EXCLUDED
                 if name not in routes]
    problems += [f"the page {name!r} is both listed and excluded" for name in listed & set(EXCLUDED)]
    return problems


def seed_pages() -> list[Page]:
    """Create the organization behind every page and return the pages, in reading order."""
    owner = UserFactory(email=OWNER_EMAIL, name="Olivia Owner")
    responder = UserFactory(email="rafael.responder@example.com", name="Rafael Responder")
    viewer = UserFactory(email="vera.viewer@example.com", name="Vera Viewer")
    org = org_services.organization_create(name="Acme Inc.", slug=ORG_SLUG, owner=owner)
    MembershipFactory(org=org, user=responder, role=Role.RESPONDER)
    MembershipFactory(org=org, user=viewer, role=Role.VIEWER)
    # The demo's story: closed, opted out, in the learning flow (with a post-mortem,
    # follow-ups, a debrief and tasks), live in two statuses, in triage, declined.
    seed_demo_incidents(org=org, people=[owner, responder])
    actor = Actor.for_user(owner)
    merged = incidents.incident_declare(org=org, actor=actor, name="EU search is stale (duplicate report)",
                                        triage=True)
    into = Incident.objects.get(org=org, name="Search results stale for EU customers")
    incidents.incident_merge(incident=merged, actor=actor, into=into)
    canceled = incidents.incident_declare(org=org, actor=actor, name="Load test mistaken for an outage", lead=owner)
    incidents.incident_cancel(incident=canceled, actor=actor, reason="A planned load test; nothing was wrong.")

    # Words longer than a phone is wide: they must wrap, not widen the page.
    long_word = incidents.incident_declare(
        org=org, actor=actor, lead=owner, name="ERR_CONNECTION_REFUSED_payments_reconciliation_primary_database",
        summary="Logs: https://logs.example.com/search?query=service%3Dpayments-reconciliation%20level%3Derror",
    )
    incidents.incident_post_update(incident=long_word, actor=actor,
                                   message="`PaymentsReconciliationPrimaryDatabaseConnectionPoolExhaustedException`")
    owner_membership = org.memberships.get(user=owner)
    org_services.invitation_create(actor=owner_membership, email="nina.newcomer@example.com", role=Role.RESPONDER)
    org_services.api_key_create(org=org, name="Status page sync", roles=["viewer"], created_by=owner)
    org_services.holiday_add(org=org, date=date.today() + timedelta(days=30), name="Company offsite")
    endpoint = endpoint_create(org=org, url="https://hooks.example.com/incidentio", events=WebhookEventType.values, created_by=owner)
    # Connected last, so seeding sent nothing to Slack.
    slack_workspace_connect(org=org, team_id=SLACK_TEAM, bot_token="xoxb-pages", team_name="Acme")
    # Single sign-on set up (SAML), with a claimed domain, a group mapping and a break-glass sign-in listed.
    OrgSSO.objects.create(org=org, protocol=Protocol.SAML, saml_idp_entity_id="https://idp.example.com/saml/metadata",
                          saml_idp_sso_url="https://idp.example.com/saml/sso", saml_idp_x509cert="MIIBcert",
                          group_roles={"incident-admins": "admin"})
    ClaimedDomain.objects.create(org=org, domain="example.com")
    BreakGlassSignIn.objects.create(org=org, user=owner, token_hash="0" * 64, requested_ip="203.0.113.7")
    # An invitation to another org, for the invitation page seen by a signed-in person.
    _other, invitation_token = _invitation_elsewhere(owner)

    def org_path(route: str, **kwargs) -> str:
        return reverse(route, kwargs={"org_slug": ORG_SLUG, **kwargs})

    by_name = {incident.name: incident for incident in Incident.objects.filter(org=org)}
    learning = by_name["Checkout API returning 502s"]
    states = [
        ("triage", "Customer reports missing invoice PDFs"),
        ("live", "Search results stale for EU customers"),
        ("live-security", "Elevated login latency"),
        ("live-long-words", long_word.name),
        ("learning", "Checkout API returning 502s"),
        ("closed", "Webhook deliveries delayed"),
        ("closed-opted-out", "Status page certificate expiry warning"),
        ("declined", "Dashboard shows wrong timezone"),
        ("merged", merged.name),
        ("canceled", canceled.name),
    ]
    assert learning.status.category == StatusCategory.LEARNING, "the demo story changed: pick another incident"
    assert FollowUp.objects.filter(incident=learning).exists() and Debrief.objects.filter(incident=learning).exists()

    pages = [
        Page("overview", "org_home", org_path("org_home")),
        Page("incidents", "incident_list", org_path("incident_list")),
        Page("incidents-none-match", "incident_list", org_path("incident_list") + "?q=no-such-incident"),
        Page("declare", "incident_declare", org_path("incident_declare")),
    ]
    pages += [
        Page(f"incident-{state}", "incident_detail", org_path("incident_detail", incident_id=by_name[name].public_id))
        for state, name in states
    ]
    pages += [
        Page(f"incident-form-{form}", "incident_form", org_path("incident_form", incident_id=learning.public_id, form_name=form))
        for form in ("details", "follow-up", "debrief", "timestamps")
    ]
    pages += [
        Page("postmortem", "postmortem", org_path("postmortem", incident_id=learning.public_id)),
        Page("my-tasks", "my_tasks", org_path("my_tasks")),
        Page("post-incident", "post_incident", org_path("post_incident")),
        Page("insights", "insights", org_path("insights")),
        Page("preferences", "preferences", org_path("preferences")),
        Page("slack-account-link", "slack_account_link",
             org_path("slack_account_link", token=make_link_token(team_id=SLACK_TEAM, slack_user_id="U0OLIVIA"))),
        Page("organization-create-in-org", "organization_create_in_org", org_path("organization_create_in_org")),
        Page("settings", "settings_general", org_path("settings_general")),
        Page("settings-members", "settings_members", org_path("settings_members")),
        Page("settings-calendar", "settings_calendar", org_path("settings_calendar")),
        Page("settings-api-keys", "settings_api_keys", org_path("settings_api_keys")),
        Page("settings-statuses", "settings_statuses", org_path("settings_statuses")),
        Page("settings-severities", "settings_severities", org_path("settings_severities")),
        Page("settings-incident-types", "settings_incident_types", org_path("settings_incident_types")),
        Page("settings-roles", "settings_roles", org_path("settings_roles")),
        Page("settings-learning", "settings_learning", org_path("settings_learning")),
        Page("settings-digests", "settings_digests", org_path("settings_digests")),
        Page("settings-reminders", "settings_reminders", org_path("settings_reminders")),
        Page("settings-follow-up-due", "settings_follow_up_due", org_path("settings_follow_up_due")),
        Page("settings-webhooks", "settings_webhooks", org_path("settings_webhooks")),
        Page("settings-webhook", "settings_webhook", org_path("settings_webhook", endpoint_id=endpoint.public_id)),
        Page("settings-slack", "settings_slack", org_path("settings_slack")),
        Page("settings-sso", "settings_sso", org_path("settings_sso")),
        Page("settings-sso-test-report", "settings_sso_test_report", org_path("settings_sso_test_report")),
        Page("add-organization", "add_organization", reverse("add_organization")),
        Page("organization-create", "organization_create", reverse("organization_create")),
        Page("invitation", "invitation", reverse("invitation", kwargs={"token": invitation_token})),
        Page("sign-in", "account_login", reverse("account_login"), signed_in=False),
        Page("sign-up", "account_signup", reverse("account_signup"), signed_in=False),
        Page("password-reset", "account_reset_password", reverse("account_reset_password"), signed_in=False),
        Page("password-reset-done", "account_reset_password_done", reverse("account_reset_password_done"),
             signed_in=False),
        Page("verification-sent", "account_email_verification_sent", reverse("account_email_verification_sent"),
             signed_in=False),
        Page("break-glass", "sso_break_glass", reverse("sso_break_glass", kwargs={"org_slug": ORG_SLUG}),
             signed_in=False),
    ]
    return pages


def _invitation_elsewhere(invitee):
    """Globex invites the owner: the page a member sees when following an invitation link."""
    bob = UserFactory(email="bob.globex@example.com", name="Bob Globex")
    globex = org_services.organization_create(name="Globex Corporation", slug="globex", owner=bob)
    invitation, token = org_services.invitation_create(
        actor=globex.memberships.get(user=bob), email=invitee.email, role=Role.RESPONDER
    )
    return invitation, token
