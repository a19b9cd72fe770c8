"""Indexes only PostgreSQL has: trigram search over the text, containment over `origin`.

SQLite (the quick start) skips them and falls back to plain scans (SPEC §6).
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS item_instruction_trgm ON annotation_item "
    "USING gin (instruction gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS item_output_trgm ON annotation_item "
    "USING gin (output gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS item_origin_gin ON annotation_item "
    "USING gin (origin jsonb_path_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS item_instruction_trgm",
    "DROP INDEX IF EXISTS item_output_trgm",
    "DROP INDEX IF EXISTS item_origin_gin",
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
