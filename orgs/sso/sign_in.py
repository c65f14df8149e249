"""The end of every SSO round trip: a sign-in for one org, a test report, or an error page.

allauth verifies the IdP's answer and calls ``orgs.sso.adapter`` hooks, which
land here and always answer with ``ImmediateHttpResponse``: allauth's own
sign-up and account-connection flows are never reached.

The round trip was started by ``start`` (from ``orgs.sso.views`` or the
settings page's test) with ``data`` = ``start_data``: the org's ``OrgSSO``
id, the purpose ("signin" | "test") and the settings' version, in allauth's
state, which lives in this browser's session. An answer is accepted only for
the org whose IdP sent it *and* whose sign-in this browser started.
"""

from __future__ import annotations

import logging

import requests
from allauth.core.exceptions import ImmediateHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from orgs import sessions
from orgs.sso import identity as identities
from orgs.sso import routing, saml_errors, services, social_apps
from orgs.sso.models import OrgSSO

logger = logging.getLogger(__name__)

PURPOSE_SIGN_IN = "signin"
PURPOSE_TEST = "test"
#: session key → {"<OrgSSO.public_id>": report}: the last test sign-in's outcome,
#: shown by the settings page's test report (``orgs.sso.settings_views``).
TEST_REPORTS_SESSION_KEY = "_sso_test_reports"
#: An answer no sign-in in this browser waits for: already used (a replay), sent
#: unasked by the IdP (IdP-initiated, refused), or from a browser that did not start it.
NOT_STARTED_HERE = ("This answer from the identity provider does not belong to a sign-in this browser started: "
                    "it was already used, or the sign-in was started at the identity provider, which is not "
                    "accepted. Start again from this site's sign-in.")


def start_data(org_sso: OrgSSO, purpose: str) -> dict:
    """The ``data`` ``start`` hands to ``provider.redirect``. ``version``: the
    settings the round trip started with, so a test that succeeds after an owner
    changed them does not count as testing the new ones."""
    return {"sso": str(org_sso.public_id), "purpose": purpose, "version": org_sso.updated_at.isoformat()}


def start(request, org_sso: OrgSSO, *, purpose: str, next_url: str | None = None):
    """Send the browser to ``org_sso``'s IdP; the answer comes back to ``finish``
    (or ``failed``). An IdP that cannot be reached gets the error page (or the
    test report), not a 500."""
    provider = social_apps.social_app(org_sso).get_provider(request)
    # python3-saml reads the Host header itself: a request without one (HTTP/1.0,
    # some probes) gets the host Django would use, instead of a KeyError.
    request.META.setdefault("HTTP_HOST", request.get_host())
    try:
        return provider.redirect(request, "login", next_url=_next_in_org(next_url, org_sso),
                                 data=start_data(org_sso, purpose))
    except requests.RequestException as exc:
        reason = unreachable_reason(exc)
        logger.warning("SSO start failed for %s: %s", org_sso, exc)
        if purpose == PURPOSE_TEST:
            save_test_report(request, org_sso, ok=False, error=reason)
            return redirect(test_report_url(org_sso))
        return error_page(request, org_sso, reason, status=502)


def finish(request, sociallogin) -> None:
    """A verified answer from an IdP: sign in for its org, or report a test."""
    org_sso = social_apps.org_sso_by_key(sociallogin.provider.app.provider_id)
    data = (sociallogin.state or {}).get("data") or {}
    if org_sso is None or data.get("sso") != str(org_sso.public_id):
        # An answer from one org's IdP to a round trip started for another (or none).
        raise ImmediateHttpResponse(error_page(request, org_sso, NOT_STARTED_HERE))
    person = identities.from_sociallogin(org_sso, sociallogin)
    if data.get("purpose") == PURPOSE_TEST:
        save_test_report(request, org_sso, ok=True, identity=person, version=data.get("version"))
        raise ImmediateHttpResponse(redirect(test_report_url(org_sso)))
    if not org_sso.enabled:
        # Switched off after this round trip started: the owner's "off" holds at once.
        raise ImmediateHttpResponse(error_page(request, org_sso, switched_off_reason(org_sso), status=403))
    try:
        membership = services.membership_for_identity(org_sso, person)
    except services.SignInRefused as exc:
        raise ImmediateHttpResponse(error_page(request, org_sso, str(exc), status=403)) from None
    user = membership.user
    if may_become_account_identity(org_sso, user):
        sessions.sign_in(request, user, backend=sessions.SIGN_IN_BACKEND)
    else:
        request.session.cycle_key()  # a sign-in all the same: a planted session key is worthless
    sessions.bind(request, org_slug=org_sso.org.slug, user=user, via=sessions.VIA_SSO)
    raise ImmediateHttpResponse(redirect(_next_in_org(sociallogin.state.get("next"), org_sso)))


def switched_off_reason(org_sso: OrgSSO) -> str:
    return (f"Single sign-on for {org_sso.org.name} was switched off while you were signing in. "
            "Sign in another way, or ask an owner of the organization.")


def may_become_account_identity(org_sso: OrgSSO, user) -> bool:
    """Whether an SSO sign-in also makes ``user`` this browser's account identity
    (Django's login, which reaches account-level pages: e-mail addresses, password).

    Only when the org's IdP is the only way into the account: no other org and
    no password. An IdP vouches for its own org, and its org's admins choose
    what it asserts and which domains the org claims, so it must not hand out
    an account that reaches other orgs (adding an e-mail address there, then
    resetting the password, would open them all). The org session is bound either way.
    """
    if user.has_usable_password():
        return False
    return not sessions.has_membership_outside(user, {org_sso.org.slug})


def failed(request, provider, *, error, exception, extra_context: dict) -> None:
    """allauth could not verify an answer (or reach the IdP): our error page,
    or the test report when the round trip was a test."""
    app = getattr(provider, "app", None)
    org_sso = social_apps.org_sso_by_key(app.provider_id) if app is not None else None
    reason = failure_reason(error=error, exception=exception, extra_context=extra_context)
    logger.warning("SSO sign-in failed for %s: %s", org_sso or "an unknown provider", reason)
    state = extra_context.get("state") or {}
    data = state.get("data") or {}
    if org_sso is not None and data.get("purpose") == PURPOSE_TEST and data.get("sso") == str(org_sso.public_id):
        save_test_report(request, org_sso, ok=False, error=reason)
        raise ImmediateHttpResponse(redirect(test_report_url(org_sso)))
    raise ImmediateHttpResponse(error_page(request, org_sso, reason))


def failure_reason(*, error, exception, extra_context: dict) -> str:
    """A sentence for the person, from what allauth reports. Never a secret:
    allauth's exceptions carry protocol errors, not tokens or keys."""
    saml_reason = extra_context.get("saml_last_error_reason")
    if saml_reason:
        return saml_errors.explain(saml_reason)
    if isinstance(exception, requests.RequestException):
        return unreachable_reason(exception)
    if exception is not None:
        return f"The identity provider's answer could not be verified: {exception}"
    if error == "cancelled":
        return "The sign-in was cancelled at the identity provider."
    if ("state_id" in extra_context and "state" not in extra_context) or (error == "unknown" and not extra_context):
        # No sign-in waits for the answer in this browser's session: allauth's
        # OAuth2 callback names the state it looked for; its SAML finish says nothing more.
        return NOT_STARTED_HERE
    return "The identity provider's answer could not be verified, or this browser did not start this sign-in."


def unreachable_reason(exc: requests.RequestException) -> str:
    """Why talking to the IdP failed. ``requests``' own text names hosts and
    connection internals, so only its kind is shown; an exception that
    ``explains_itself`` (an IdP that answered unusably, e.g.
    ``orgs.sso.oidc.errors.DiscoveryError``) is a sentence for the person already."""
    if getattr(exc, "explains_itself", False):
        return str(exc)
    return f"The identity provider could not be reached ({type(exc).__name__}). Try again in a minute."


def error_page(request, org_sso: OrgSSO | None, reason: str, *, status: int = 401):
    """The one error page of SSO: nothing was signed in, nothing changed."""
    org = org_sso.org if org_sso is not None else None
    retry = routing.start_url(org.slug) if org is not None and org_sso.enabled else None
    return render(request, "sso/error.html", {"org": org, "reason": reason, "retry": retry}, status=status)


def save_test_report(request, org_sso: OrgSSO, *, ok: bool, identity=None, error: str = "",
                     version: str | None = None) -> None:
    """Keep a test's outcome for the report page; a success with the settings as
    they are now (``version``, from ``start_data``) lets an owner switch SSO on."""
    if ok and version is not None and version != org_sso.updated_at.isoformat():
        ok, error = False, "The single sign-on settings changed while this test ran. Test again."
    report = {"ok": ok, "at": timezone.now().isoformat(), "error": error}
    if identity is not None:
        report.update(uid=identity.uid, email=identity.email, name=identity.name, groups=list(identity.groups),
                      claims=identity.claims, role=services.role_for_groups(org_sso, identity.groups))
    reports = dict(request.session.get(TEST_REPORTS_SESSION_KEY) or {})
    reports[str(org_sso.public_id)] = report
    request.session[TEST_REPORTS_SESSION_KEY] = reports
    if ok:
        OrgSSO.objects.filter(pk=org_sso.pk).update(tested_at=timezone.now())


def test_report_url(org_sso: OrgSSO) -> str:
    return reverse("settings_sso_test_report", kwargs={"org_slug": org_sso.org.slug})


def _next_in_org(next_url: str | None, org_sso: OrgSSO) -> str:
    """``next`` when it points into the org just signed in, else the org's home."""
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts=None) and \
            next_url.startswith("/") and sessions.org_slug_from_path(next_url) == org_sso.org.slug:
        return next_url
    return reverse("org_home", kwargs={"org_slug": org_sso.org.slug})
