"""One browser, two organizations, two identities (docs/multi-org-sessions.md), clicked through in Chromium.

alice owns acme; bob owns globex only. In one browser alice signs in for acme,
adds globex through the avatar menu as bob, uses both side by side in two tabs,
then signs out of globex alone: acme keeps working as alice.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from orgs.models import Role
from tests.browser.helpers import fill_sign_in, open_avatar_menu
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = "alice@acme.test"
BOB = "bob@globex.test"
ACME = "Acme Inc."
GLOBEX = "Globex Corporation"


@pytest.fixture
def acme_and_globex():
    """acme owned by alice; globex owned by bob, who is not in acme."""
    acme = OrganizationFactory(slug="acme", name=ACME)
    globex = OrganizationFactory(slug="globex", name=GLOBEX)
    MembershipFactory(org=acme, role=Role.OWNER, user=UserFactory(email=ALICE))
    MembershipFactory(org=globex, role=Role.OWNER, user=UserFactory(email=BOB))


# --- What a user does -----------------------------------------------------------


def sign_in(page: Page, email: str) -> None:
    """Fill allauth's sign-in form on the current page (e-mail, then password) and submit it."""
    fill_sign_in(page, email, PASSWORD)




# --- What a user sees -------------------------------------------------------------


def expect_sign_in_page_for(page: Page, path: str) -> None:
    """The sign-in page, asked to send the user on to ``path`` afterwards."""
    expect(page).to_have_url(re.compile(r"/accounts/login/\?"))
    expect(page.get_by_role("button", name="Continue", exact=True)).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["next"] == [path], page.url


def expect_org_page_as(page: Page, *, path: str, org_name: str, email: str) -> None:
    """The org's dashboard, acting as ``email``."""
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # The badge is the org's initial (a logo) followed by its name.
    expect(page.get_by_test_id("org-name")).to_contain_text(org_name)
    # The avatar names the person, with the e-mail beneath (factory users have names).
    expect(page.get_by_test_id("identity-email")).to_have_text(email)


def expect_menu_lists_orgs(menu: Locator, held: dict[str, str]) -> None:
    """The avatar menu's org switcher: exactly these org slugs, each with its identity."""
    switches = menu.locator("a[data-org]")
    expect(switches).to_have_count(len(held))
    for slug, email in held.items():
        expect(menu.locator(f'a[data-org="{slug}"]')).to_contain_text(email)


# --- The scenario -------------------------------------------------------------------


def test_one_browser_holds_two_orgs_as_two_identities_and_signs_out_of_one(
    acme_and_globex, browser_context, artifacts_dir
):
    tab1 = browser_context.new_page()

    # An org page without a session for it asks to sign in, then comes back.
    tab1.goto("/acme/")
    expect_sign_in_page_for(tab1, "/acme/")
    sign_in(tab1, ALICE)
    expect_org_page_as(tab1, path="/acme/", org_name=ACME, email=ALICE)

    # "+ Add organization" signs in for globex as another account, bob.
    open_avatar_menu(tab1).get_by_role("link", name="+ Add organization").click()
    tab1.locator("input[name=slug]").fill("globex")
    tab1.get_by_role("button", name="Continue to sign in").click()
    expect_sign_in_page_for(tab1, "/globex/")
    sign_in(tab1, BOB)
    expect_org_page_as(tab1, path="/globex/", org_name=GLOBEX, email=BOB)

    # Two tabs of the same browser: acme as alice and globex as bob, at once.
    tab2 = browser_context.new_page()
    tab1.goto("/acme/")
    tab2.goto("/globex/")
    tab1.reload()
    tab2.reload()
    expect_org_page_as(tab1, path="/acme/", org_name=ACME, email=ALICE)
    expect_org_page_as(tab2, path="/globex/", org_name=GLOBEX, email=BOB)
    expect_menu_lists_orgs(open_avatar_menu(tab1), {"acme": ALICE, "globex": BOB})
    tab1.screenshot(path=artifacts_dir / "acme-avatar-menu-open.png", full_page=True)
    expect_menu_lists_orgs(open_avatar_menu(tab2), {"acme": ALICE, "globex": BOB})

    # Signing out of globex (on its tab) ends globex only.
    open_avatar_menu(tab2).get_by_role("button", name=f"Sign out of {GLOBEX}").click()
    expect(tab2.get_by_role("status")).to_have_text(f"Signed out of {GLOBEX}.")

    tab1.reload()
    expect_org_page_as(tab1, path="/acme/", org_name=ACME, email=ALICE)
    expect_menu_lists_orgs(open_avatar_menu(tab1), {"acme": ALICE})

    tab2.goto("/globex/")
    expect_sign_in_page_for(tab2, "/globex/")
