"""Slack bot tokens and webhook signing secrets are encrypted at rest
(incidentio/common/encryption.py): the column holds a Fernet token, keys rotate with
``manage.py rotate_encryption_keys``, and the migrations encrypt what was stored
in clear before."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidentio.common.encryption import DecryptionError
from slackbot.models import SlackWorkspace
from tests.stored import stored_value
from webhooks import services
from webhooks.models import WebhookEndpoint

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
BOT_TOKEN = "xoxb-1111-2222-stored-encrypted"


def _workspace(org, token=BOT_TOKEN) -> SlackWorkspace:
    return SlackWorkspace.objects.create(org=org, team_id="T0ENC", bot_token=token, bot_user_id="UBOT")


def _endpoint(org) -> WebhookEndpoint:
    return services.endpoint_create(org=org, url="https://example.com/hooks", events=["incident.created"], created_by=None)


def _under(key: str, token: str) -> str:
    return Fernet(key).decrypt(token.encode()).decode()


def _rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_columns_hold_fernet_tokens_and_the_models_read_plaintext(acme, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    workspace, endpoint = _workspace(acme), _endpoint(acme)

    token, secret = stored_value(workspace, "bot_token"), stored_value(endpoint, "secret")
    assert BOT_TOKEN not in token and endpoint.secret not in secret
    assert (_under(KEY_A, token), _under(KEY_A, secret)) == (BOT_TOKEN, endpoint.secret)
    assert SlackWorkspace.objects.get().bot_token == BOT_TOKEN
    assert WebhookEndpoint.objects.get().secret == endpoint.secret and endpoint.secret.startswith("whsec_")


@pytest.mark.django_db
def test_an_encrypted_field_refuses_lookups_that_could_never_match(acme):
    _workspace(acme)
    with pytest.raises(FieldError):
        SlackWorkspace.objects.filter(bot_token=BOT_TOKEN).exists()
    assert SlackWorkspace.objects.filter(bot_token__isnull=False).count() == 1


@pytest.mark.django_db
def test_keys_rotate_without_losing_a_secret(acme, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    workspace, endpoint = _workspace(acme), _endpoint(acme)
    secret = endpoint.secret
    assert _under(KEY_A, stored_value(workspace, "bot_token")) == BOT_TOKEN

    # A new key goes first; the old one still decrypts what it encrypted.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert SlackWorkspace.objects.get().bot_token == BOT_TOKEN and WebhookEndpoint.objects.get().secret == secret

    assert "Done: 2 values re-encrypted." in _rotate()
    stored = stored_value(workspace, "bot_token"), stored_value(endpoint, "secret")
    assert (_under(KEY_B, stored[0]), _under(KEY_B, stored[1])) == (BOT_TOKEN, secret)
    assert BOT_TOKEN not in stored[0] and secret not in stored[1]
    # Running it again changes nothing.
    assert "Done: 0 values re-encrypted." in _rotate()
    assert (stored_value(workspace, "bot_token"), stored_value(endpoint, "secret")) == stored

    # The old key can go.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert SlackWorkspace.objects.get().bot_token == BOT_TOKEN and WebhookEndpoint.objects.get().secret == secret
    with pytest.raises(InvalidToken):
        _under(KEY_A, stored[0])


@pytest.mark.django_db
def test_a_value_no_key_decrypts_stops_the_rotation_and_changes_nothing(acme, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    workspace = _workspace(acme)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    endpoint = _endpoint(acme)
    before = stored_value(workspace, "bot_token"), stored_value(endpoint, "secret")

    # KEY_A was dropped before its values were rotated.
    settings.FIELD_ENCRYPTION_KEYS = [KEY_C, KEY_B]
    with pytest.raises(CommandError) as refused:
        _rotate()

    assert "webhooks.WebhookEndpoint" in str(refused.value) and "Nothing was changed" in str(refused.value)
    assert (stored_value(workspace, "bot_token"), stored_value(endpoint, "secret")) == before
    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        WebhookEndpoint.objects.get()


@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_what_was_stored_in_clear_and_decrypt_it_going_back(acme, settings):
    before_encryption = [("slackbot", "0003_outbox_delivery_lease"), ("webhooks", "0001_initial")]
    encrypted_endpoint = _endpoint(acme)
    secret = encrypted_endpoint.secret

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before_encryption)
    # Going back leaves the secret in clear, where the old code reads it.
    assert stored_value(encrypted_endpoint, "secret") == secret

    old = executor.loader.project_state(before_encryption).apps
    old_workspace = old.get_model("slackbot", "SlackWorkspace").objects.create(
        org_id=acme.pk, team_id="T0OLD", bot_token=BOT_TOKEN
    )
    assert stored_value(old_workspace, "bot_token") == BOT_TOKEN

    executor = MigrationExecutor(connection)  # reload what is applied
    executor.migrate(latest)

    key = settings.FIELD_ENCRYPTION_KEYS[0]
    token = stored_value(old_workspace, "bot_token")
    assert BOT_TOKEN not in token and _under(key, token) == BOT_TOKEN
    assert _under(key, stored_value(encrypted_endpoint, "secret")) == secret
    assert SlackWorkspace.objects.get(team_id="T0OLD").bot_token == BOT_TOKEN
    assert WebhookEndpoint.objects.get(pk=encrypted_endpoint.pk).secret == secret
