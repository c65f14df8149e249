"""Create the database cache table used when no REDIS_URL is configured.

allauth's sign-in rate limits live in the cache, so ``migrate`` alone must
leave a working one behind (``createcachetable`` is a no-op for Redis).
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
