"""Settings → API keys: admins create keys (the token shown once), see them
used, and revoke them; the token works against the real API until then."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from orgs.models import ApiKey, hash_api_token
from orgs.services import api_key_create

pytestmark = pytest.mark.django_db

PAGE = "/acme/settings/api-keys/"
TOKEN = re.compile(r'data-testid="new-api-key-token">([^<]+)<')


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


def _create(client, name="Terraform", roles=("viewer",)):
    return client.post(PAGE, {"name": name, "roles": list(roles)})


def _identity(token):
    return Client().get("/api/v2/identity", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_admin_creates_a_key_and_sees_its_token_once(as_admin, acme, admin):
    response = _create(as_admin, roles=["viewer", "incident_editor"])

    # Shown in the create response itself: the token is never stored in clear, not even in the session.
    assert response.status_code == 201
    first = response
    match = TOKEN.search(first.content.decode())
    assert match, "the new token is on the page that answers the create"
    token = match.group(1)
    assert token.startswith("inc_")
    assert "no-store" in first["Cache-Control"]
    key = ApiKey.objects.get(org=acme)
    assert key.name == "Terraform" and key.roles == ["incident_editor", "viewer"] and key.created_by == admin
    # Only the hash is kept: the token is in no column.
    assert key.token_hash == hash_api_token(token)
    assert token not in {key.name, key.token_prefix, key.token_hash, *key.roles}
    assert token.startswith(key.token_prefix)

    second = as_admin.get(PAGE).content.decode()
    assert token not in second and 'data-testid="new-api-key"' not in second
    assert key.token_prefix in second and "Terraform" in second and "Never" in second


def test_the_token_authenticates_until_the_key_is_revoked(as_admin, acme):
    created = _create(as_admin, name="Status page", roles=["viewer"])
    token = TOKEN.search(created.content.decode()).group(1)

    identity = _identity(token)

    assert identity.status_code == 200
    assert identity.json()["identity"]["roles"] == ["viewer"]
    assert identity.json()["identity"]["organization"]["slug"] == "acme"
    page = as_admin.get(PAGE).content.decode()
    assert "Never" not in page and ">just now</time>" in page  # last used is shown, a moment ago

    key = ApiKey.objects.get(org=acme)
    response = as_admin.post(f"{PAGE}{key.public_id}/revoke/")

    assert response.status_code == 302 and response.url == PAGE
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert _identity(token).status_code == 401
    assert "Revoked" in as_admin.get(PAGE).content.decode()


def test_a_key_needs_a_name_and_a_role(as_admin, acme):
    no_roles = _create(as_admin, roles=[])
    assert no_roles.status_code == 400 and "Give the key at least one role." in no_roles.content.decode()
    no_name = _create(as_admin, name="  ")
    assert no_name.status_code == 400 and "This field is required." in no_name.content.decode()
    unknown = _create(as_admin, roles=["root"])
    assert unknown.status_code == 400 and "root is not one of the available choices" in unknown.content.decode()
    assert not ApiKey.objects.exists()


def test_the_token_is_never_stored_in_clear_not_even_in_the_session(acme, admin, signed_in):
    from django.contrib.sessions.models import Session

    client = signed_in(admin, acme)
    token = TOKEN.search(_create(client).content.decode()).group(1)

    assert all(token not in str(s.get_decoded()) for s in Session.objects.all())
    assert 'data-testid="new-api-key"' not in client.get(PAGE).content.decode()


@pytest.mark.parametrize("who", ["responder", "viewer"])
def test_responders_and_viewers_get_403(request, acme, signed_in, who):
    key, _ = api_key_create(org=acme, name="CI", roles=["viewer"], created_by=None)
    client = signed_in(request.getfixturevalue(who), acme)

    assert client.get(PAGE).status_code == 403
    assert _create(client).status_code == 403
    assert client.post(f"{PAGE}{key.public_id}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.count() == 1


def test_another_orgs_key_is_a_404_whatever_the_method(as_admin, globex):
    theirs, token = api_key_create(org=globex, name="Globex CI", roles=["viewer"], created_by=None)

    assert as_admin.post(f"{PAGE}{theirs.public_id}/revoke/").status_code == 404
    assert as_admin.get(f"{PAGE}{theirs.public_id}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and _identity(token).status_code == 200
    assert "Globex CI" not in as_admin.get(PAGE).content.decode()


def test_revoke_is_post_only(as_admin, acme):
    key, _ = api_key_create(org=acme, name="CI", roles=["viewer"], created_by=None)
    assert as_admin.get(f"{PAGE}{key.public_id}/revoke/").status_code == 405
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_key_list_costs_the_same_queries_for_many_keys(as_admin, acme, admin, django_assert_max_num_queries):
    api_key_create(org=acme, name="Key 0", roles=["viewer"], created_by=admin)
    with django_assert_max_num_queries(30) as few:
        as_admin.get(PAGE)
    for i in range(1, 8):
        api_key_create(org=acme, name=f"Key {i}", roles=["viewer"], created_by=admin)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = as_admin.get(PAGE).content.decode()
    assert "Key 7" in page
