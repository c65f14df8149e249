"""Encryption at rest for the credentials the product keeps (docs/encryption.md).

Slack bot tokens and webhook signing secrets are stored as Fernet tokens
(``cryptography``: AES-128-CBC with an HMAC-SHA256) under
``settings.FIELD_ENCRYPTION_KEYS``. A MultiFernet encrypts with the first key
and decrypts with any of them, which is what lets keys rotate: put the new key
first, run ``manage.py rotate_encryption_keys``, then drop the old key.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Cast


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    fernets = [Fernet(key) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    # Read on each call, not at import: tests and key rotation change the setting.
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """A Fernet token of ``plaintext`` under the first key."""
    return _current()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret could not be decrypted with any key in FIELD_ENCRYPTION_KEYS "
            "(was a key removed before rotate_encryption_keys ran?)."
        ) from None


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted under the first key."""
    try:
        _current()[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """``token`` re-encrypted under the first key (``MultiFernet.rotate``)."""
    try:
        return _current()[0].rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret could not be decrypted with any key in FIELD_ENCRYPTION_KEYS.") from None


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database and plain in Python.

    The column holds a Fernet token, different on every save, so the field can
    only be tested for NULL: any other lookup raises ``FieldError`` instead of
    silently matching nothing.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored with ``EncryptedTextField``."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


@transaction.atomic
def reencrypt_all() -> dict[str, int]:
    """Re-encrypt every stored value under the first key; how many changed, per field.

    Idempotent: a value already under the first key is left alone. One
    transaction: a value no key decrypts raises ``DecryptionError`` and nothing
    is changed. The rows are locked so a secret regenerated meanwhile is not
    overwritten with its rotated old value.
    """
    changed = {}
    for model, name in encrypted_fields():
        manager = model._default_manager
        # Cast: read the stored token itself; the field would decrypt it.
        rows = manager.select_for_update().annotate(_token=Cast(name, models.TextField())).values_list("pk", "_token")
        count = 0
        for pk, token in rows:
            if token is None or is_current(token):
                continue
            try:
                rotated = rotate(token)
            except DecryptionError as exc:
                raise DecryptionError(f"{model._meta.label} {pk} {name}: {exc}") from None
            # A Value of a plain TextField is written as is (the field would encrypt it again).
            manager.filter(pk=pk).update(**{name: models.Value(rotated, output_field=models.TextField())})
            count += 1
        changed[f"{model._meta.label}.{name}"] = count
    return changed


# --- Data migrations ------------------------------------------------------------------------------


def encrypt_column(app_label: str, model_name: str, name: str):
    """A ``RunPython`` that encrypts the plaintext values of a column, and decrypts them going back.

    Run it while the historical field is a plain ``TextField`` (so it reads and
    writes the column as is), between widening the column and turning the field
    into an ``EncryptedTextField``. A value that already decrypts is left alone,
    so running it twice is harmless.
    """
    from django.db import migrations

    def forward(apps, schema_editor):
        manager = apps.get_model(app_label, model_name)._base_manager
        for pk, value in manager.values_list("pk", name):
            if value is not None and not _decrypts(value):
                manager.filter(pk=pk).update(**{name: encrypt(value)})

    def backward(apps, schema_editor):
        manager = apps.get_model(app_label, model_name)._base_manager
        for pk, value in manager.values_list("pk", name):
            if value is not None and _decrypts(value):
                manager.filter(pk=pk).update(**{name: decrypt(value)})

    return migrations.RunPython(forward, backward)


def _decrypts(value: str) -> bool:
    try:
        decrypt(value)
    except DecryptionError:
        return False
    return True
