"""Sign-up with e-mail verification and password reset, through allauth's pages."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from orgs.models import User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def _link(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", body).group(1)


def test_sign_up_needs_the_emailed_link_before_signing_in():
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    # Not signed in yet: the org-less landing sends to sign-in.
    assert client.get("/").url == "/accounts/login/"

    confirm_url = _link(mail.outbox[0].body)
    assert client.get(confirm_url).status_code == 200
    response = client.post(confirm_url)
    assert response.status_code == 302
    # Signed in, in no organization yet: offered to create one.
    assert client.get("/").url == "/organizations/new/"


def test_password_reset_by_email():
    user = User.objects.create_user("forgetful@example.com", "old-pass-phrase-1")
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    reset_url = _link(mail.outbox[0].body)

    form_page = client.get(reset_url, follow=True)
    action_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_url
    response = client.post(action_url, {"password1": "new-pass-phrase-2", "password2": "new-pass-phrase-2"})
    assert response.status_code == 302

    user.refresh_from_db()
    assert user.check_password("new-pass-phrase-2")
    sign_in(Client(), user, None, password="new-pass-phrase-2")


def test_reset_for_unknown_email_reveals_nothing(db):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    # allauth mails the address to say no account exists, rather than revealing it on the page.
    assert all("nobody@example.com" in m.to for m in mail.outbox)
