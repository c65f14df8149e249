# Bot tokens are encrypted at rest (incidentio/common/encryption.py, docs/encryption.md):
# widen the column, encrypt the tokens stored in clear, then read them through the field.

from django.db import migrations, models

import incidentio.common.encryption


class Migration(migrations.Migration):

    dependencies = [
        ('slackbot', '0003_outbox_delivery_lease'),
    ]

    operations = [
        migrations.AlterField(
            model_name='slackworkspace',
            name='bot_token',
            field=models.TextField(),
        ),
        incidentio.common.encryption.encrypt_column('slackbot', 'SlackWorkspace', 'bot_token'),
        migrations.AlterField(
            model_name='slackworkspace',
            name='bot_token',
            field=incidentio.common.encryption.EncryptedTextField(),
        ),
    ]
