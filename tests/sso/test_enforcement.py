"""An org that requires single sign-on takes no password sign-in, for that
org only; password sessions held from before end at their next request;
SSO and break-glass sessions pass (orgs/adapters.py, orgs/middleware.py)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgs import sessions
from orgs.models import Membership, Role
from orgs.sso.models import OrgSSO
from tests.conftest import sign_in
from tests.factories import PASSWORD
from tests.sso.signin_support import SAML_IDP_SSO_URL, account_identity, held_orgs, hold, saml_sso_on, sso_on

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _password_sign_in(client: Client, user, org_slug: str | None):
    data = {"login": user.email, "password": PASSWORD}
    if org_slug:
        data["next"] = f"/{org_slug}/"
    return client.post(LOGIN, data)


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_signed_out_visit_to_an_org_that_requires_sso_goes_straight_to_its_idp(acme):
    sso_on(acme, enforced=True)

    response = Client().get("/acme/incidents/?status=open")

    assert response.status_code == 302
    assert response["Location"] == "/account/sso/acme/start/?next=%2Facme%2Fincidents%2F%3Fstatus%3Dopen"


def test_a_pages_own_fetch_is_not_sent_to_the_idp(acme):
    # Nobody would finish that round trip; the sign-in page's redirect tells the script the session ended.
    sso_on(acme, enforced=True)

    response = Client().get("/acme/incidents/", headers={"Sec-Fetch-Mode": "cors"})

    assert response["Location"] == "/accounts/login/?next=/acme/incidents/"


def test_signed_out_visit_to_an_org_whose_sso_is_optional_goes_to_the_sign_in_page(acme):
    sso_on(acme)

    response = Client().get("/acme/")

    assert response["Location"] == "/accounts/login/?next=/acme/"


def test_a_password_for_an_org_that_requires_sso_is_refused_and_changes_nothing(acme, responder):
    sso_on(acme, enforced=True)
    client = Client()

    response = _password_sign_in(client, responder, "acme")

    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Facme%2F"
    said = _messages(response)
    assert "Acme Inc. requires single sign-on." in said
    assert 'href="/account/sso/acme/start/?next=%2Facme%2F"' in said
    assert "break-glass" not in said.lower()  # a responder cannot use it
    assert held_orgs(client) == {} and account_identity(client) is None
    assert client.get("/acme/").status_code == 302


def test_an_owner_refused_a_password_is_offered_break_glass(acme, owner):
    sso_on(acme, enforced=True)
    client = Client()

    said = _messages(_password_sign_in(client, owner, "acme"))

    assert 'href="/account/sso/acme/break-glass/"' in said
    assert held_orgs(client) == {}


def test_the_refusal_is_for_that_org_only(acme, globex, responder):
    Membership.objects.create(org=globex, user=responder, role=Role.RESPONDER)
    sso_on(acme, enforced=True)
    client = Client()

    sign_in(client, responder, "globex")

    assert held_orgs(client) == {"globex": "password"}
    assert client.get("/globex/").status_code == 200


def test_a_plain_password_sign_in_skips_the_orgs_that_require_sso(acme, globex, responder):
    Membership.objects.create(org=globex, user=responder, role=Role.RESPONDER)
    sso_on(acme, enforced=True)
    client = Client()

    sign_in(client, responder, None)

    assert held_orgs(client) == {"globex": "password"}
    assert client.get("/").headers["Location"] == "/globex/"
    assert client.get("/acme/")["Location"].startswith("/account/sso/acme/start/")


def test_a_plain_sign_in_to_orgs_that_all_require_sso_is_refused_with_their_links(acme, globex, responder):
    Membership.objects.create(org=globex, user=responder, role=Role.RESPONDER)
    sso_on(acme, enforced=True)
    sso_on(globex, enforced=True)
    client = Client()

    response = _password_sign_in(client, responder, None)

    assert response.status_code == 302 and response["Location"] == LOGIN
    said = _messages(response)
    assert 'href="/account/sso/acme/start/?next=%2Facme%2F">Acme Inc.</a>' in said
    assert 'href="/account/sso/globex/start/?next=%2Fglobex%2F">Globex Corporation</a>' in said
    assert held_orgs(client) == {} and account_identity(client) is None


def test_a_password_session_ends_once_the_org_requires_sso_and_an_sso_one_stays(acme, globex, responder, outsider):
    Membership.objects.create(org=globex, user=responder, role=Role.RESPONDER)
    by_password = Client()
    sign_in(by_password, responder, None)
    by_sso = hold(Client(), responder, acme, via=sessions.VIA_SSO)
    assert by_password.get("/acme/").status_code == 200

    sso_on(acme, enforced=True)

    response = by_password.get("/acme/incidents/")
    assert response.status_code == 302
    assert response["Location"] == "/account/sso/acme/start/?next=%2Facme%2Fincidents%2F"
    assert held_orgs(by_password) == {"globex": "password"}  # only acme's session ended
    assert by_password.get("/globex/").status_code == 200
    assert by_sso.get("/acme/incidents/").status_code == 200


def test_a_post_from_an_ended_password_session_goes_to_the_sign_in_page_not_the_idp(acme, responder):
    client = Client()
    sign_in(client, responder, "acme")
    sso_on(acme, enforced=True)

    response = client.post("/acme/incidents/declare/", {"name": "x"})

    # A post redirected on to the IdP would break the CSP's form-action: the page offers SSO instead.
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert held_orgs(client) == {}


def test_a_break_glass_session_passes(acme, owner):
    sso_on(acme, enforced=True)

    client = hold(Client(), owner, acme, via=sessions.VIA_BREAK_GLASS)

    assert client.get("/acme/").status_code == 200


def test_sso_switched_on_but_not_required_leaves_password_sessions(acme, responder):
    client = Client()
    sign_in(client, responder, "acme")

    sso_on(acme)

    assert client.get("/acme/").status_code == 200



def test_the_signed_out_visit_reaches_the_idps_start_rather_than_the_sign_in_page(acme):
    # sso_start names the org (org_slug) but is no org page: the middleware must not send it to sign in again.
    saml_sso_on(acme, enforced=True)
    client = Client()

    start = client.get("/acme/")["Location"]
    response = client.get(start, HTTP_HOST="127.0.0.1")  # allauth's SAML reads the Host header browsers send

    assert start == "/account/sso/acme/start/?next=%2Facme%2F"
    assert response.status_code == 302 and response["Location"].startswith(SAML_IDP_SSO_URL + "?SAMLRequest=")
    assert held_orgs(client) == {}


def test_whether_the_org_requires_sso_is_read_in_the_membership_check_itself(acme, responder, settings):
    # Every dashboard request checks the membership in one query; requiring SSO adds no second one.
    settings.DB_PREPARED_STATEMENTS = False  # each query's SQL as sent, not EXECUTE <name>
    sso_on(acme, enforced=True)
    client = hold(Client(), responder, acme, via=sessions.VIA_SSO)

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/acme/").status_code == 200

    reading_sso = [q["sql"] for q in captured.captured_queries if OrgSSO._meta.db_table in q["sql"]]
    assert len(reading_sso) == 1, reading_sso
    assert Membership._meta.db_table in reading_sso[0]
