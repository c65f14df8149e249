"""SAML sign-in in a real Chromium: the IdP's auto-submit page posts to our ACS
and the browser lands in the org (docs/sso.md)."""

from __future__ import annotations

import pytest

from orgs.models import Membership, Role
from tests.browser import conftest as browser_fixtures
from tests.factories import OrganizationFactory
from tests.sso.fixtures_saml import saml_sso
from tests.sso.idps.saml import Fault, SamlUser

pytestmark = pytest.mark.browser

# tests/browser's Chromium and browser profile, for these tests outside that folder.
browser = browser_fixtures.browser
browser_context = browser_fixtures.browser_context


@pytest.fixture
def acme_saml(transactional_db, saml_idp):
    # The live server's thread cannot see the test's transaction: no ``acme`` fixture here.
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    saml_idp.user = SamlUser(name_id="okta-00ann", email="ann@acme.test", name="Ann Example",
                             groups=["incident-admins"])
    return saml_sso(acme, saml_idp, domains=("acme.test",), group_roles={"incident-admins": Role.ADMIN})


def test_a_browser_signs_in_through_the_idp_and_lands_in_the_org(acme_saml, browser_context):
    page = browser_context.new_page()

    page.goto("/account/sso/acme/start/?next=/acme/incidents/")

    page.wait_for_url("**/acme/incidents/")
    membership = Membership.objects.select_related("user").get(org=acme_saml.org)
    assert (membership.user.email, membership.role) == ("ann@acme.test", Role.ADMIN)


def test_a_tampered_answer_shows_the_error_page_in_the_browser(acme_saml, saml_idp, browser_context):
    saml_idp.fault = Fault.TAMPERED
    page = browser_context.new_page()

    page.goto("/account/sso/acme/start/?next=/acme/")

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "The identity provider's signature does not match its answer" in alert.inner_text()
    assert not Membership.objects.filter(org=acme_saml.org).exists()
    page.goto("/acme/")
    assert "/accounts/login/" in page.url
