"""Break-glass: an owner's password sign-in to an org that requires SSO,
confirmed from an e-mailed link, logged, and told to the other owners
(orgs/sso/break_glass.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from orgs import sessions
from orgs.models import Membership, Role
from orgs.sso.models import BreakGlassSignIn
from tests.factories import PASSWORD, UserFactory
from tests.sso.signin_support import account_identity, held_orgs, sso_on

pytestmark = pytest.mark.django_db

PAGE = "/account/sso/acme/break-glass/"
SENT = "If that is an owner's account of an organization that requires single sign-on, we sent a link"
LINK = re.compile(r"http://testserver(/account/sso/break-glass/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def second_owner(acme):
    user = UserFactory(email="second-owner@acme.test")
    Membership.objects.create(org=acme, user=user, role=Role.OWNER)
    return user


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _ask(client: Client, email: str, password: str = PASSWORD, page: str = PAGE, capture=None):
    with capture(execute=True):
        return client.post(page, {"email": email, "password": password}, HTTP_USER_AGENT="Firefox/128 (test)")


def _link(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match[1]


def test_an_owner_gets_in_through_the_emailed_link_and_it_is_logged(
    acme, owner, second_owner, django_capture_on_commit_callbacks
):
    sso_on(acme, enforced=True)
    browser = Client()
    assert "E-mail me a link" in _text(browser.get(PAGE))

    response = _ask(browser, owner.email, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 200 and SENT in _text(response)
    assert held_orgs(browser) == {} and account_identity(browser) is None  # the password alone binds nothing
    assert [m.to for m in mail.outbox] == [[owner.email]]
    row = BreakGlassSignIn.objects.get()
    assert (row.org, row.user, row.requested_ip, row.user_agent) == (acme, owner, "127.0.0.1", "Firefox/128 (test)")
    assert row.confirmed_at is None
    link = _link(mail.outbox[0])
    assert PASSWORD not in mail.outbox[0].body

    # The link's GET (a mail scanner, or the owner) shows a button and changes nothing.
    page = browser.get(link)
    assert page.status_code == 200 and "Sign in to Acme Inc." in _text(page)
    assert held_orgs(browser) == {}
    BreakGlassSignIn.objects.get(confirmed_at__isnull=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(link)

    assert response.status_code == 302 and response["Location"] == "/acme/"
    assert held_orgs(browser) == {"acme": sessions.VIA_BREAK_GLASS}
    assert browser.get("/acme/").status_code == 200
    row.refresh_from_db()
    assert row.confirmed_at is not None and row.confirmed_ip == "127.0.0.1"
    told = mail.outbox[1]
    assert told.to == [second_owner.email]
    assert owner.email in told.subject and "break-glass" in told.body


@pytest.mark.parametrize("case", ["wrong password", "unknown e-mail", "not an owner", "sso not required", "sso off"])
def test_anything_wrong_gets_the_same_answer_and_nothing_happens(
    acme, owner, admin, case, django_capture_on_commit_callbacks
):
    sso_on(acme, enforced=case != "sso not required", enabled=case != "sso off")
    email, password = {
        "wrong password": (owner.email, "not-the-password"),
        "unknown e-mail": ("nobody@acme.test", PASSWORD),
        "not an owner": (admin.email, PASSWORD),
    }.get(case, (owner.email, PASSWORD))
    browser = Client()

    response = _ask(browser, email, password, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 200 and SENT in _text(response)
    assert mail.outbox == []
    assert not BreakGlassSignIn.objects.exists()
    assert held_orgs(browser) == {} and account_identity(browser) is None


def test_another_orgs_owner_gets_nothing(acme, owner, outsider, globex, django_capture_on_commit_callbacks):
    sso_on(acme, enforced=True)

    response = _ask(Client(), outsider.email, capture=django_capture_on_commit_callbacks)

    assert SENT in _text(response)
    assert mail.outbox == [] and not BreakGlassSignIn.objects.exists()


def _requested_link(browser: Client, owner, capture) -> str:
    _ask(browser, owner.email, capture=capture)
    return _link(mail.outbox[-1])


def test_an_expired_link_signs_nobody_in(acme, owner, django_capture_on_commit_callbacks):
    sso_on(acme, enforced=True)
    browser = Client()
    link = _requested_link(browser, owner, django_capture_on_commit_callbacks)
    BreakGlassSignIn.objects.update(requested_at=timezone.now() - timedelta(minutes=16))

    for response in (browser.get(link), browser.post(link)):
        assert response.status_code == 410
        assert "expired or was used already" in _text(response)
    assert held_orgs(browser) == {} and account_identity(browser) is None
    assert BreakGlassSignIn.objects.get().confirmed_at is None


def test_a_link_works_once(acme, owner, django_capture_on_commit_callbacks):
    sso_on(acme, enforced=True)
    first = Client()
    link = _requested_link(first, owner, django_capture_on_commit_callbacks)
    assert first.post(link).status_code == 302

    again = Client()
    response = again.post(link)

    assert response.status_code == 410 and "expired or was used already" in _text(response)
    assert held_orgs(again) == {} and account_identity(again) is None


def test_a_link_stops_working_when_its_owner_is_no_longer_one(acme, owner, django_capture_on_commit_callbacks):
    sso_on(acme, enforced=True)
    browser = Client()
    link = _requested_link(browser, owner, django_capture_on_commit_callbacks)
    Membership.objects.filter(org=acme, user=owner).update(role=Role.ADMIN)

    assert browser.post(link).status_code == 410
    assert held_orgs(browser) == {}


def test_a_made_up_link_is_refused(acme, owner):
    sso_on(acme, enforced=True)
    browser = Client()

    response = browser.post("/account/sso/break-glass/made-up-token/")

    assert response.status_code == 410 and held_orgs(browser) == {}


def test_wrong_passwords_are_rate_limited_with_the_sign_in_pages_limit(acme, owner, django_capture_on_commit_callbacks):
    sso_on(acme, enforced=True)
    browser = Client()
    for _ in range(5):  # ACCOUNT_RATE_LIMITS["login_failed"]: 5 per 5 minutes per e-mail
        assert SENT in _text(_ask(browser, owner.email, "wrong", capture=django_capture_on_commit_callbacks))

    response = _ask(browser, owner.email, capture=django_capture_on_commit_callbacks)  # now the right one

    assert response.status_code == 429 and "Too many failed attempts" in _text(response)
    assert mail.outbox == [] and not BreakGlassSignIn.objects.exists()
