"""Single sign-on per organization (docs/sso.md), clicked through in Chromium
against real identity providers on loopback: an OpenID Connect one
(tests/sso/idps/oidc.py) and a SAML one (tests/sso/idps/saml.py).

The IdPs sign in whoever the test made "the person signed in at the IdP"
(``idp.sign_in_as`` / ``idp.user``); everything else is the browser's own
doing: redirects, the hand-off page's meta refresh, the SAML IdP's
auto-submitting form, new tabs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from incidentio.incidents.models import Incident
from orgs.models import Membership, Role, User
from orgs.sso.models import OrgSSO
from tests.browser.helpers import fill_sign_in, open_avatar_menu
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
from tests.sso import fixtures_oidc, fixtures_saml
from tests.sso.fixtures_oidc import oidc_sso_for
from tests.sso.fixtures_saml import saml_sso
from tests.sso.idps.saml import SamlUser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The IdPs' fixtures, for these tests outside tests/sso.
oidc_idp = fixtures_oidc.oidc_idp
saml_idp = fixtures_saml.saml_idp

ACME = "Acme Inc."
GLOBEX = "Globex Corporation"
INITECH = "Initech"
ANN = "ann@acme.test"
BOB = "bob@globex.test"
#: A contractor: her address is in no domain an org claims.
CAROL = "carol@contractor.test"


@pytest.fixture(autouse=True)
def sso_may_call_loopback(settings):
    """The IdPs serve on 127.0.0.1, which single sign-on refuses to call unless
    ``SSO_ALLOW_PRIVATE_ADDRESSES`` (tests/sso/conftest.py does the same there)."""
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True


# --- What a user does -----------------------------------------------------------




def declare_incident(page: Page, org_slug: str, name: str) -> None:
    page.goto(f"/{org_slug}/incidents/")
    page.get_by_role("link", name="Declare incident").first.click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Declare incident").click()
    expect(page.get_by_test_id("incident-title")).to_contain_text(name)


def record_navigations(page: Page) -> list:
    """Every document request of ``page``'s main frame from now on, redirect
    hops included (each is a request of its own), in order."""
    seen = []
    page.on("request", lambda request: seen.append(request)
            if request.is_navigation_request() and request.frame == page.main_frame else None)
    return seen


def hops(requests) -> list[tuple[str, str, str]]:
    """(method, host:port, path) of each request."""
    return [(request.method, urlsplit(request.url).netloc, urlsplit(request.url).path) for request in requests]


# --- What a user sees -------------------------------------------------------------


def expect_org_page_as(page: Page, *, path: str, org_name: str, name: str, email: str) -> None:
    """The org's dashboard, acting as the person named ``name`` (the avatar)."""
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_test_id("org-name")).to_contain_text(org_name)
    expect(page.get_by_test_id("identity")).to_have_text(name)
    expect(page.get_by_test_id("identity-email")).to_have_text(email)


# --- 1. OpenID Connect, e-mail first ----------------------------------------------


def test_an_address_in_a_claimed_domain_signs_in_through_the_orgs_oidc_idp(oidc_idp, browser_context):
    acme = OrganizationFactory(slug="acme", name=ACME)
    ann = UserFactory(email=ANN, name="Ann Example")
    MembershipFactory(org=acme, user=ann, role=Role.RESPONDER)
    oidc_sso_for(acme, oidc_idp, domains=("acme.test",))
    oidc_idp.sign_in_as("okta-00ann", ANN, name="Ann at Okta")
    page = browser_context.new_page()
    navigations = record_navigations(page)

    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(ANN)
    page.get_by_role("button", name="Continue", exact=True).click()

    expect_org_page_as(page, path="/acme/", org_name=ACME, name="Ann Example", email=ANN)
    # The e-mail's post answered with the hand-off page (not a redirect: the
    # CSP's form-action forbids one to the IdP), whose meta refresh opened our
    # start, which sent the browser to the IdP, and the IdP back to us.
    here, idp = urlsplit(page.url).netloc, urlsplit(oidc_idp.issuer).netloc
    route = hops(navigations)
    post = route.index(("POST", here, "/accounts/login/"))
    assert navigations[post].response().status == 200
    assert route[post + 1:post + 4] == [("GET", here, "/account/sso/acme/start/"), ("GET", idp, "/authorize"),
                                        ("GET", here, route[post + 3][2])], route
    assert navigations[post + 1].redirected_from is None, "our start was opened by the hand-off page"
    assert route[post + 3][2].endswith("/login/callback/"), route
    # The IdP's answer signed in the existing account: no second Ann.
    assert list(User.objects.filter(email__iexact=ANN).values_list("pk", flat=True)) == [ann.pk]


# --- 2. The headline: two orgs, two IdPs, two identities, one browser --------------


def test_add_organization_through_a_second_idp_keeps_the_first_and_each_tab_acts_as_its_own_person(
    oidc_idp, saml_idp, browser_context
):
    acme = OrganizationFactory(slug="acme", name=ACME)
    globex = OrganizationFactory(slug="globex", name=GLOBEX)
    oidc_sso_for(acme, oidc_idp, domains=("acme.test",))
    saml_sso(globex, saml_idp, domains=("globex.test",))
    # Neither has an account yet: each IdP's first answer creates one. Each then
    # becomes the browser's account identity in turn, the case where Django's
    # login would flush the session (and with it Acme's) if we let it.
    oidc_idp.sign_in_as("okta-00ann", ANN, name="Ann Example")
    saml_idp.user = SamlUser(name_id="entra-bob", email=BOB, name="Bob Builder")
    tab1 = browser_context.new_page()

    tab1.goto("/acme/")
    tab1.get_by_test_id("sso-offer").click()
    expect_org_page_as(tab1, path="/acme/", org_name=ACME, name="Ann Example", email=ANN)

    open_avatar_menu(tab1).get_by_role("link", name="+ Add organization").click()
    tab1.locator("input[name=slug]").fill("globex")
    tab1.get_by_role("button", name="Continue to sign in").click()
    expect(tab1.get_by_test_id("sso-offer")).to_have_text(f"Continue with {GLOBEX} single sign-on")
    tab1.get_by_test_id("sso-offer").click()
    expect_org_page_as(tab1, path="/globex/", org_name=GLOBEX, name="Bob Builder", email=BOB)

    tab2 = browser_context.new_page()
    tab1.goto("/acme/")
    tab2.goto("/globex/")
    # Acme's session survived the Globex sign-in.
    expect_org_page_as(tab1, path="/acme/", org_name=ACME, name="Ann Example", email=ANN)
    expect_org_page_as(tab2, path="/globex/", org_name=GLOBEX, name="Bob Builder", email=BOB)

    declare_incident(tab1, "acme", "Checkout is slow")
    declare_incident(tab2, "globex", "Warehouse scanners offline")

    recorded = {incident.org.slug: (incident.name, incident.created_by.email)
                for incident in Incident.objects.select_related("org", "created_by")}
    assert recorded == {"acme": ("Checkout is slow", ANN), "globex": ("Warehouse scanners offline", BOB)}
    assert {(m.org.slug, m.user.email) for m in Membership.objects.select_related("org", "user")} == {
        ("acme", ANN), ("globex", BOB)}


# --- 3. An org that requires single sign-on ------------------------------------------


def test_an_org_requiring_sso_goes_straight_to_its_idp_and_refuses_the_password_the_other_org_takes(
    saml_idp, browser_context
):
    globex = OrganizationFactory(slug="globex", name=GLOBEX)
    initech = OrganizationFactory(slug="initech", name=INITECH)
    carol = UserFactory(email=CAROL, name="Carol Contractor")
    MembershipFactory(org=globex, user=carol, role=Role.RESPONDER)
    MembershipFactory(org=initech, user=carol, role=Role.RESPONDER)
    saml_sso(globex, saml_idp, domains=("globex.test",), enforced=True)
    saml_idp.user = SamlUser(name_id="entra-carol", email=CAROL, name="Carol Contractor")
    page = browser_context.new_page()
    navigations = record_navigations(page)

    # Signed out, /globex/ goes to the IdP and back: no sign-in page on the way.
    page.goto("/globex/")
    expect_org_page_as(page, path="/globex/", org_name=GLOBEX, name="Carol Contractor", email=CAROL)
    route = hops(navigations)
    assert not [hop for hop in route if hop[2] == "/accounts/login/"], route
    assert ("GET", urlsplit(saml_idp.sso_url).netloc, urlsplit(saml_idp.sso_url).path) in route, route

    open_avatar_menu(page).get_by_role("button", name=f"Sign out of {GLOBEX}").click()

    # Her password is refused for Globex, with the way in named…
    page.goto("/accounts/login/?next=/globex/")
    fill_sign_in(page, CAROL, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(
        f"{GLOBEX} requires single sign-on. Continue with {GLOBEX} single sign-on.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to /globex/")

    # …and still signs her in to Initech, which does not require it.
    page.goto("/initech/")
    fill_sign_in(page, CAROL, PASSWORD)
    expect_org_page_as(page, path="/initech/", org_name=INITECH, name="Carol Contractor", email=CAROL)


# --- 4. Settings → Single sign-on → Test connection ----------------------------------


def test_test_connection_opens_a_tab_reporting_what_the_idp_sent_and_switches_sso_on_from_there(
    oidc_idp, browser_context
):
    acme = OrganizationFactory(slug="acme", name=ACME)
    MembershipFactory(org=acme, user=UserFactory(email=ANN, name="Ann Example"), role=Role.OWNER)
    oidc_sso_for(acme, oidc_idp, enabled=False, group_roles={"incident-admins": Role.ADMIN})
    oidc_idp.sign_in_as("okta-00tess", "tess@acme.test", name="Tess Tester",
                        groups=["incident-admins", "engineering"])
    settings_page = browser_context.new_page()
    settings_page.goto("/acme/")
    fill_sign_in(settings_page, ANN, PASSWORD)
    settings_page.get_by_role("link", name="Settings", exact=True).click()
    settings_page.get_by_role("link", name="Single sign-on", exact=True).click()
    expect(settings_page.get_by_test_id("sso-status")).to_have_text("Off")

    with browser_context.expect_page() as opened:
        settings_page.get_by_test_id("sso-test-link").click()
    report = opened.value
    report.wait_for_url(re.compile(r"/acme/settings/sso/test/report/$"))

    expect(report.get_by_test_id("sso-test-outcome")).to_contain_text("The identity provider signed in tess@acme.test")
    identity = report.get_by_test_id("sso-test-identity")
    expect(identity).to_contain_text("Tess Tester")
    expect(identity).to_contain_text("incident-admins, engineering")
    expect(report.get_by_test_id("sso-test-role")).to_have_text("Admin")
    claims = report.get_by_test_id("sso-test-claims")
    for claim in ("sub", "email", "email_verified", "groups"):
        expect(claims.locator("td:first-child code", has_text=re.compile(f"^{claim}$"))).to_have_count(1)
    expect(claims).to_contain_text("okta-00tess")
    # A test signs nobody in.
    assert not User.objects.filter(email="tess@acme.test").exists()

    report.get_by_role("button", name="Switch on single sign-on").click()

    expect(report.get_by_test_id("sso-status")).to_have_text("On")
    assert OrgSSO.objects.get(org=acme).enabled
