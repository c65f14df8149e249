"""The sign-in page asks for the e-mail first and routes on its domain
(orgs/views/login.py): a claimed domain hands off to its org's IdP, any
other address goes on to the password. A sign-in *for* an org offers its SSO."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from tests.conftest import sign_in
from tests.sso.signin_support import account_identity, held_orgs, sso_on

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _meta_refresh(response) -> str:
    match = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', response.content.decode())
    assert match, response.content.decode()[:2000]
    return html.unescape(match[1])


def test_step_one_asks_for_the_email_alone():
    page = _text(Client().get(LOGIN))

    assert 'name="login"' in page
    assert 'name="password"' not in page
    assert ">Continue</button>" in page


def test_a_claimed_domain_hands_off_to_its_orgs_identity_provider(acme, owner):
    sso_on(acme, domains=("acme.test",))
    client = Client()

    response = client.post(LOGIN, {"login": "Owner@ACME.test"})

    assert response.status_code == 200
    page = _text(response)
    assert "Signing you in through Acme Inc.'s identity provider…" in page
    assert _meta_refresh(response) == "/account/sso/acme/start/?next=%2Facme%2F"
    assert 'href="/account/sso/acme/start/?next=%2Facme%2F"' in page  # the visible link, for no meta refresh
    assert "Use a password instead" in page  # acme does not require SSO
    assert 'name="password"' not in page
    assert held_orgs(client) == {} and account_identity(client) is None


def test_routing_reads_the_domain_never_whether_the_account_exists(acme, owner):
    sso_on(acme, domains=("acme.test",))

    known = _text(Client().post(LOGIN, {"login": owner.email}))
    unknown = _text(Client().post(LOGIN, {"login": "nobody-yet@acme.test"}))

    def without_email_and_token(page: str) -> str:
        page = page.replace(owner.email, "E").replace("nobody-yet@acme.test", "E")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)

    assert without_email_and_token(known) == without_email_and_token(unknown)
    assert "Signing you in through Acme Inc." in known


def test_an_org_that_requires_sso_offers_no_password_on_the_hand_off(acme, owner):
    sso_on(acme, enforced=True, domains=("acme.test",))

    page = _text(Client().post(LOGIN, {"login": owner.email}))

    assert "Signing you in through Acme Inc.'s identity provider…" in page
    assert "Use a password instead" not in page


def test_use_a_password_instead_goes_to_step_two_with_the_email_kept(acme, owner):
    sso_on(acme, domains=("acme.test",))
    client = Client()

    page = _text(client.post(LOGIN, {"login": owner.email, "step": "password"}))

    assert "Signing you in" not in page
    assert re.search(r'<input type="email" name="login" value="owner@acme.test"[^>]*readonly', page), page
    assert 'name="password"' in page and ">Sign in</button>" in page
    assert "Use a different e-mail" in page
    sign_in(client, owner, None)  # and the password signs in as before
    assert held_orgs(client) == {"acme": "password"}


@pytest.mark.parametrize("claimed_but_off", [True, False])
def test_any_other_address_goes_on_to_the_password(acme, claimed_but_off):
    if claimed_but_off:
        sso_on(acme, domains=("acme.test",), enabled=False)
    address = "someone@acme.test" if claimed_but_off else "someone@example.com"

    page = _text(Client().post(LOGIN, {"login": address}))

    assert "Signing you in" not in page
    assert f'value="{address}"' in page and 'name="password"' in page
    assert 'href="/accounts/login/"' in page and "Use a different e-mail" in page


def test_a_wrong_password_keeps_step_two(acme, owner):
    page = _text(Client().post(LOGIN, {"login": owner.email, "password": "wrong"}))

    assert "do not match an account" in page
    assert 'value="owner@acme.test"' in page and 'name="password"' in page


def test_not_an_address_is_said_at_step_one_and_changes_nothing():
    client = Client()
    page = _text(client.post(LOGIN, {"login": "not-an-address"}))

    assert "Enter an e-mail address" in page
    assert 'name="password"' not in page
    assert held_orgs(client) == {} and account_identity(client) is None


def test_email_and_password_posted_together_sign_in_as_before(acme, owner):
    sso_on(acme, domains=("acme.test",))  # SSO on but not required: the password still works
    client = Client()

    response = sign_in(client, owner, None)

    assert response["Location"] == "/"
    assert held_orgs(client) == {"acme": "password"}


def test_signing_in_for_an_org_offers_its_sso(acme, owner):
    sso_on(acme)

    page = _text(Client().get(LOGIN, {"next": "/acme/incidents/"}))

    assert 'href="/account/sso/acme/start/?next=%2Facme%2Fincidents%2F"' in page
    assert "Continue with Acme Inc. single sign-on" in page
    assert 'name="login"' in page  # the password way stays, below


def test_signing_in_for_an_org_without_sso_offers_none(acme, globex):
    sso_on(globex)

    page = _text(Client().get(LOGIN, {"next": "/acme/"}))

    assert "single sign-on" not in page


def test_signing_in_for_another_org_is_not_routed_to_the_domains_org(acme, globex, outsider):
    # outsider@globex.test asks for acme (a sign-in *for* acme): globex's IdP is not where they asked to go.
    sso_on(globex, domains=("globex.test",))

    page = _text(Client().post(LOGIN, {"login": outsider.email, "next": "/acme/"}))

    assert "Signing you in" not in page and 'name="password"' in page


def test_signing_in_for_the_domains_org_hands_off_with_its_next(acme, owner):
    sso_on(acme, domains=("acme.test",))

    response = Client().post(LOGIN, {"login": owner.email, "next": "/acme/incidents/"})

    assert _meta_refresh(response) == "/account/sso/acme/start/?next=%2Facme%2Fincidents%2F"
