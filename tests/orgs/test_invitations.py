"""The invitation link: sign up or sign in, then join — once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orgs import services
from orgs.models import Membership, Role, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(acme, admin):
    def make(email="newcomer@example.com", role=Role.RESPONDER):
        actor = Membership.objects.get(org=acme, user=admin)
        invitation, token = services.invitation_create(actor=actor, email=email, role=role)
        return invitation, f"/invitations/{token}/"

    return make


def test_new_person_signs_up_from_the_link_and_joins(invite, acme):
    invitation, url = invite()
    client = Client()
    page = client.get(url)
    assert page.status_code == 200
    assert "Join Acme Inc." in page.content.decode()

    response = client.post(
        f"/accounts/signup/?next={url}",
        {"email": "newcomer@example.com", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1", "next": url},
    )
    # The address came from the invitation e-mail, so no second verification.
    assert response.status_code == 302 and response.url == url

    response = client.post(url)
    assert response.status_code == 302 and response.url == "/acme/"
    user = User.objects.get(email="newcomer@example.com")
    assert Membership.objects.get(org=acme, user=user).role == Role.RESPONDER
    assert client.get("/acme/").context["request"].user == user


def test_existing_user_signs_in_and_joins(invite, acme, outsider):
    _, url = invite(email=outsider.email, role=Role.VIEWER)
    client = Client()
    sign_in(client, outsider, None)
    response = client.post(url)
    assert response.url == "/acme/"
    assert Membership.objects.get(org=acme, user=outsider).role == Role.VIEWER


def test_link_used_by_someone_else_is_refused(invite, acme, outsider):
    _, url = invite(email="someone@example.com")
    client = Client()
    sign_in(client, outsider, None)
    page = client.get(url)
    assert "Sign in as someone@example.com" in page.content.decode()
    response = client.post(url)
    assert response.status_code == 400
    assert not Membership.objects.filter(org=acme, user=outsider).exists()


def test_reused_link_is_a_clear_message_and_creates_nothing(invite, acme, outsider):
    _, url = invite(email=outsider.email)
    client = Client()
    sign_in(client, outsider, None)
    client.post(url)
    Membership.objects.filter(org=acme, user=outsider).update(role=Role.VIEWER)

    again = client.post(url)

    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert Membership.objects.filter(org=acme, user=outsider).count() == 1
    assert Membership.objects.get(org=acme, user=outsider).role == Role.VIEWER


def test_expired_link_is_a_clear_message_and_creates_nothing(invite, acme, outsider):
    invitation, url = invite(email=outsider.email)
    invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invitation.save()
    client = Client()
    sign_in(client, outsider, None)

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 410
        assert "expired" in response.content.decode()
    assert not Membership.objects.filter(org=acme, user=outsider).exists()


def test_withdrawn_link_is_refused(invite, acme, outsider):
    invitation, url = invite(email=outsider.email)
    services.invitation_revoke(invitation=invitation)
    client = Client()
    sign_in(client, outsider, None)
    assert client.post(url).status_code == 410
    assert not Membership.objects.filter(org=acme, user=outsider).exists()


def test_unknown_token_is_404(db):
    assert Client().get("/invitations/nope/").status_code == 404


def test_a_new_invitation_replaces_the_pending_one(invite):
    first, first_url = invite()
    second, _ = invite(role=Role.VIEWER)
    assert Client().get(first_url).status_code == 410
    first.refresh_from_db()
    assert not first.is_pending and second.is_pending


def test_signup_with_an_existing_email_takes_over_nothing(owner):
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"email": owner.email, "password1": "attacker-pass-123", "password2": "attacker-pass-123"},
    )
    owner.refresh_from_db()
    assert owner.check_password("correct-horse-battery")
    assert User.objects.filter(email=owner.email).count() == 1
    assert "_org_sessions" not in client.session or not client.session["_org_sessions"]
    assert response.status_code in (200, 302)


def test_invitation_lets_its_invitee_sign_up_when_open_sign_up_is_off(invite, acme, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    closed = Client().post(
        "/accounts/signup/",
        {"email": "stranger@example.com", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert not User.objects.filter(email="stranger@example.com").exists()
    assert closed.status_code == 200

    _, url = invite()
    client = Client()
    client.get(url)
    client.post(
        "/accounts/signup/",
        {"email": "newcomer@example.com", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1", "next": url},
    )
    client.post(url)
    assert Membership.objects.filter(org=acme, user__email="newcomer@example.com").exists()


def _sign_up(client, email, url=None):
    data = {"email": email, "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"}
    if url:
        data["next"] = url
    return client.post("/accounts/signup/" + (f"?next={url}" if url else ""), data)


def test_closed_sign_up_refuses_another_address_after_viewing_an_invitation(invite, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    _, url = invite()
    client = Client()
    client.get(url)

    response = _sign_up(client, "stranger@example.com", url)

    assert response.status_code == 200
    errors = response.context["form"].errors["email"]
    assert errors == ["Sign-up is by invitation only: this invitation is for newcomer@example.com."]
    assert not User.objects.filter(email="stranger@example.com").exists()


def test_closed_sign_up_offers_only_the_invited_address(invite, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    _, url = invite()
    client = Client()
    client.get(url)

    page = client.get(f"/accounts/signup/?next={url}").content.decode()

    assert 'value="newcomer@example.com"' in page
    assert "readonly" in page.split('name="email"')[1].split(">")[0]


def test_closed_sign_up_lets_the_invitee_join_without_a_second_verification(invite, acme, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    _, url = invite()
    client = Client()
    client.get(url)

    response = _sign_up(client, "NewComer@example.com", url)

    assert response.status_code == 302 and response.url == url
    assert client.post(url).url == "/acme/"
    assert Membership.objects.filter(org=acme, user__email="newcomer@example.com").exists()


@pytest.mark.parametrize("spoil", ["revoke", "expire"])
def test_closed_sign_up_closes_again_when_the_viewed_invitation_is_no_longer_pending(invite, settings, spoil):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    invitation, url = invite()
    client = Client()
    client.get(url)
    if spoil == "revoke":
        services.invitation_revoke(invitation=invitation)
    else:
        invitation.expires_at = timezone.now() - timedelta(seconds=1)
        invitation.save()

    response = _sign_up(client, "newcomer@example.com", url)

    assert response.status_code == 200
    assert "closed" in response.content.decode().lower()
    assert not User.objects.filter(email="newcomer@example.com").exists()
