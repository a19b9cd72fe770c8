"""The origin containment index leaves out items waiting for translation, as the trigram one does.

A SafeRLHF import writes tens of thousands of such rows at once, and adding each to a GIN
index (its pending list, then the merges) cost about a fifth of the whole import. Those rows
are replaced by their translation soon after; until then a harm-category filter reaches them
through the status index (annotation.filters.ItemFilter.filter_harm_category).
"""

from django.db import migrations

from ._postgres import run_on_postgresql

FORWARD = [
    "DROP INDEX IF EXISTS item_origin_gin",
    "CREATE INDEX item_origin_gin ON annotation_item USING gin (origin jsonb_path_ops) "
    "WHERE status <> 'pending_translation'",
]
BACKWARD = [
    "DROP INDEX IF EXISTS item_origin_gin",
    "CREATE INDEX item_origin_gin ON annotation_item USING gin (origin jsonb_path_ops)",
]


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_item_key_collation_partial_indexes")]

    operations = [migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD))]
