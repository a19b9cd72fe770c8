"""Indexes only PostgreSQL has: trigram search over the text, containment over `origin`.

The text search index covers the three text fields as one expression (a search ORs them, and
one index serves that, three would need a BitmapOr over all of them). It leaves out items
still waiting for translation: their English text is bulk-loaded (tens of thousands of rows at
a time) and replaced soon after, and keeping a trigram index current during such loads costs
more than the rest of the import together. A search reaches those rows through the status
index instead (annotation.filters.search_text). SQLite (the quick start) has none of these
and scans (SPEC §6).
"""

from django.db import migrations

from ._postgres import run_on_postgresql

SEARCH_TEXT_SQL = "(instruction || E'\\x1f' || input || E'\\x1f' || output)"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS item_text_trgm ON annotation_item "
    f"USING gin ({SEARCH_TEXT_SQL} gin_trgm_ops) WHERE status <> 'pending_translation'",
    "CREATE INDEX IF NOT EXISTS item_origin_gin ON annotation_item "
    "USING gin (origin jsonb_path_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS item_text_trgm",
    "DROP INDEX IF EXISTS item_origin_gin",
]


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]

    operations = [migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD))]
