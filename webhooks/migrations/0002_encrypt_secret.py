# Signing secrets are encrypted at rest (incidentio/common/encryption.py, docs/encryption.md):
# widen the column, encrypt the secrets stored in clear, then read them through the field.

from django.db import migrations, models

import incidentio.common.encryption
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
        incidentio.common.encryption.encrypt_column('webhooks', 'WebhookEndpoint', 'secret'),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='secret',
            field=incidentio.common.encryption.EncryptedTextField(default=webhooks.models.generate_secret, editable=False),
        ),
    ]
