"""Keep the search vector in the table row (PostgreSQL).

Ranking reads every matching row's tsvector. With the default storage, a wide agent row had
its tsvector moved out to TOAST, so each rank cost extra page reads; MAIN storage makes
PostgreSQL move the other large columns out first. Rows written before this keep their
layout until they are next updated. A no-op on SQLite.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE marketplace_agent ALTER COLUMN search_vector SET STORAGE MAIN")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE marketplace_agent ALTER COLUMN search_vector SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0004_listed_partial_index")]
    operations = [migrations.RunPython(forward, backward)]
