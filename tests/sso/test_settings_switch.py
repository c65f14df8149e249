"""Switching single sign-on on only after a successful test sign-in, requiring
it only while on, roles, "Test connection" and its report (docs/sso.md)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory

from orgs import sessions
from orgs.sso import sign_in
from orgs.sso.identity import Identity
from orgs.sso.models import OrgSSO, Protocol
from tests.form_errors import error_next_to
from tests.sso.settings_support import self_signed
from tests.sso.signin_support import hold

pytestmark = pytest.mark.django_db

SSO_URL = "https://idp.example.test/saml/sso"


@pytest.fixture
def org_sso(acme):
    return OrgSSO.objects.create(org=acme, protocol=Protocol.SAML, saml_idp_entity_id="https://idp.example.test",
                                 saml_idp_sso_url=SSO_URL, saml_idp_x509cert=self_signed()[1],
                                 group_roles={"incident-admins": "admin"})


def post(client, action, **fields):
    return client.post("/acme/settings/sso/", {"action": action, **fields}, follow=True)


def report_test(client, org_sso, **identity):
    """What ``orgs.sso.sign_in.finish`` does after a test sign-in, on a request
    carrying this browser's session."""
    request = RequestFactory().get("/")
    request.session = client.session
    person = Identity(**{"uid": "u-42", "email": "ada@acme.test", "name": "Ada Lovelace",
                         "groups": ("incident-admins", "everyone"),
                         "claims": {"email": "ada@acme.test", "groups": ["incident-admins", "everyone"],
                                    "department": "Engines"}, **identity})
    sign_in.save_test_report(request, org_sso, ok=True, identity=person)
    request.session.save()


def test_switching_on_is_refused_before_a_successful_test(acme, owner, signed_in, org_sso):
    response = post(signed_in(owner, acme), "switch_on")

    assert "Run “Test connection” first" in response.content.decode()
    org_sso.refresh_from_db()
    assert not org_sso.enabled


def test_after_a_test_the_report_shows_what_the_idp_sent_and_sso_can_be_switched_on(acme, owner, signed_in, org_sso):
    client = signed_in(owner, acme)
    report_test(client, org_sso)

    page = client.get("/acme/settings/sso/test/report/").content.decode()

    assert "The identity provider signed in <strong>ada@acme.test</strong>" in page
    assert "<code>u-42</code>" in page and "Ada Lovelace" in page
    assert 'data-testid="sso-test-role">Admin' in page
    assert "<td><code>department</code></td><td><code>Engines</code></td>" in page
    assert '<input type="hidden" name="action" value="switch_on">' in page

    response = post(client, "switch_on")

    assert "Single sign-on is on" in response.content.decode()
    org_sso.refresh_from_db()
    assert org_sso.enabled and org_sso.tested_at is not None


def test_a_failed_test_is_reported_and_switches_nothing_on(acme, owner, signed_in, org_sso):
    client = signed_in(owner, acme)
    request = RequestFactory().get("/")
    request.session = client.session
    sign_in.save_test_report(request, org_sso, ok=False, error="The signature did not verify.")
    request.session.save()

    page = client.get("/acme/settings/sso/test/report/").content.decode()

    assert "The test sign-in failed: The signature did not verify." in page
    assert 'value="switch_on"' not in page
    org_sso.refresh_from_db()
    assert org_sso.tested_at is None


def test_the_report_page_without_a_test_says_so(acme, owner, signed_in, org_sso):
    page = signed_in(owner, acme).get("/acme/settings/sso/test/report/").content.decode()

    assert "No test sign-in from this browser yet." in page


def test_test_connection_opens_a_new_tab_that_goes_to_the_idp(settings, acme, owner, signed_in, org_sso):
    # python3-saml wants our ACS URL on a real host name (not "testserver"), as a browser's Host gives it.
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    client = signed_in(owner, acme)

    page = client.get("/acme/settings/sso/").content.decode()
    response = client.get("/acme/settings/sso/test/", headers={"host": "127.0.0.1"})

    assert ('href="/acme/settings/sso/test/" target="_blank" rel="noopener" data-testid="sso-test-link">'
            "Test connection</a>") in page
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SSO_URL
    assert "SAMLRequest" in parse_qs(location.query)


def test_requiring_is_refused_while_off_and_switching_off_lifts_it(acme, owner, signed_in, org_sso):
    # Signed in through SSO: a password session would end (to the IdP) the moment SSO is required.
    client = hold(signed_in(owner, acme), owner, acme, via=sessions.VIA_SSO)

    refused = post(client, "require")
    org_sso.refresh_from_db()
    assert "Switch single sign-on on before requiring it." in refused.content.decode() and not org_sso.enforced

    report_test(client, org_sso)
    post(client, "switch_on")
    required = post(client, "require")
    org_sso.refresh_from_db()
    assert org_sso.enforced and 'data-testid="sso-required">Required' in required.content.decode()

    post(client, "switch_off")
    org_sso.refresh_from_db()
    assert (org_sso.enabled, org_sso.enforced) == (False, False)


def test_roles_and_group_mapping_never_owner(acme, owner, signed_in, org_sso):
    client = signed_in(owner, acme)

    post(client, "save_roles", default_role="", groups_claim="memberOf")
    post(client, "map_group", group="sre", role="responder")
    refused = post(client, "map_group", group="bosses", role="owner")
    refused_default = post(client, "save_roles", default_role="owner", groups_claim="groups")
    post(client, "unmap_group", group="incident-admins")

    org_sso.refresh_from_db()
    assert (org_sso.default_role, org_sso.groups_claim, org_sso.group_roles) == ("", "memberOf", {"sre": "responder"})
    assert refused.status_code == 400 and "Select a valid choice" in error_next_to(refused.content.decode(), "id_role")
    assert refused_default.status_code == 400
    assert "Select a valid choice" in error_next_to(refused_default.content.decode(), "id_default_role")


def test_a_test_that_succeeds_after_the_settings_changed_does_not_count(acme, owner, signed_in, oidc_idp):
    """The owner starts "Test connection", then changes the settings before the
    IdP answers: the success tested the old settings, so SSO stays switchable-off."""
    from django.utils import timezone

    from orgs.sso.models import OrgSSO
    from tests.sso.fixtures_oidc import idp_answer, oidc_sso_for

    org_sso = oidc_sso_for(acme, oidc_idp, enabled=False)
    oidc_idp.sign_in_as("idp-owner", "owner@acme.test")
    client = signed_in(owner, acme)
    callback = idp_answer(client, "/acme/settings/sso/test/", oidc_idp)
    OrgSSO.objects.filter(pk=org_sso.pk).update(updated_at=timezone.now())  # saved again meanwhile

    client.get(callback)

    org_sso.refresh_from_db()
    assert org_sso.tested_at is None
    page = client.get("/acme/settings/sso/test/report/").content.decode()
    assert "The single sign-on settings changed while this test ran. Test again." in page
