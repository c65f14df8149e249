# Signing secrets are encrypted at rest (incidentio/encryption.py, docs/encryption.md):
# widen the column, encrypt the secrets stored in clear, then read them through the field.

from django.db import migrations, models

import incidentio.encryption
import webhooks.models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='webhookendpoint',
            name='secret',
            field=models.TextField(default=webhooks.models.generate_secret, editable=False),
        ),
        incidentio.encryption.encrypt_column('webhooks', 'WebhookEndpoint', 'secret'),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='secret',
            field=incidentio.encryption.EncryptedTextField(default=webhooks.models.generate_secret, editable=False),
        ),
    ]
