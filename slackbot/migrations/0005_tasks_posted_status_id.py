"""Task messages queued before the learning flow put their status id in
``data``: copy it there from the dedupe key
(``learning.tasks_posted:<incident pk>:<status pk>``), once, so the transport
reads only ``data``."""

from django.db import migrations


def status_id_into_data(apps, schema_editor):
    OutboxMessage = apps.get_model("slackbot", "OutboxMessage")
    messages = OutboxMessage.objects.filter(kind="learning.tasks_posted", dedupe_key__startswith="learning.tasks_posted:")
    for message in messages.iterator(chunk_size=2000):
        if (message.data or {}).get("status_id"):
            continue
        status_id = message.dedupe_key.rsplit(":", 1)[1]
        if status_id.isdigit():
            message.data = {**(message.data or {}), "status_id": int(status_id)}
            message.save(update_fields=["data"])


class Migration(migrations.Migration):

    dependencies = [
        ("slackbot", "0004_encrypt_bot_token"),
    ]

    operations = [
        migrations.RunPython(status_id_into_data, migrations.RunPython.noop),
    ]
