"""Item search moves off the item row; imports can be rolled back by a job.

- ItemSearchText: one row per item with the bigram keys of its text (annotation.search),
  under a GIN index, written by a trigger when an item is inserted or its text changes
  (and, for imports, by a follow-up after the commit: services.search). It replaces the
  trigram index over the item row (migration 0002), which every write of an item had to
  update (a status change rewrote its ~450 entries) and which could not find a
  two-character word. Existing items get their keys here.
- The origin index leaves out items without harm categories (a status change of those
  writes no entries in it).
- Job kind `rollback`.
SQLite (the quick start) gets the table but neither function, trigger nor index: search scans.
"""

from django.db import migrations, models
import django.db.models.deletion

import annotation.fields
from ._postgres import run_on_postgresql

# The searchable text of an item, and its keys (annotation.search, which computes the same
# keys in numpy for imports: a test holds the two equal).
SEARCH_TEXT_SQL = "lower({t}instruction || E'\\x1f' || {t}input || E'\\x1f' || {t}output)"
KEYS_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION vad_search_keys(t text) RETURNS int4[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT coalesce(array_agg(DISTINCT ((p.a << 16 | p.b) - 2147483648)::int4), '{}')
FROM (
    SELECT CASE WHEN ascii(x) < 65536 THEN ascii(x) ELSE 55296 + (ascii(x) & 2047) END::int8,
           CASE WHEN ascii(y) < 65536 THEN ascii(y) ELSE 55296 + (ascii(y) & 2047) END::int8
    FROM string_to_array(t, NULL) AS c, unnest(c[1:cardinality(c) - 1], c[2:]) AS u(x, y)
) AS p(a, b)
$$
"""

SYNC_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION vad_item_search_text_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_itemsearchtext (item_id, keys)
    VALUES (NEW.id, vad_search_keys({SEARCH_TEXT_SQL.format(t="NEW.")}))
    ON CONFLICT (item_id) DO UPDATE SET keys = EXCLUDED.keys;
    RETURN NULL;
END
$$
"""

FORWARD = [
    KEYS_FUNCTION_SQL,
    SYNC_FUNCTION_SQL,
    # An import sets vad.search_deferred for its transaction: its follow-up writes the keys.
    "CREATE TRIGGER item_search_text_insert AFTER INSERT ON annotation_item FOR EACH ROW "
    "WHEN (current_setting('vad.search_deferred', true) IS DISTINCT FROM 'on') "
    "EXECUTE FUNCTION vad_item_search_text_sync()",
    # Only a change of the text: a status change does not even fire it.
    "CREATE TRIGGER item_search_text_update AFTER UPDATE OF instruction, input, output "
    "ON annotation_item FOR EACH ROW WHEN (OLD.instruction IS DISTINCT FROM NEW.instruction "
    "OR OLD.input IS DISTINCT FROM NEW.input OR OLD.output IS DISTINCT FROM NEW.output) "
    "EXECUTE FUNCTION vad_item_search_text_sync()",
    "INSERT INTO annotation_itemsearchtext (item_id, keys) "
    f"SELECT id, vad_search_keys({SEARCH_TEXT_SQL.format(t='')}) FROM annotation_item",
    "CREATE INDEX item_search_keys ON annotation_itemsearchtext USING gin (keys)",
    # Finer statistics of the keys (up to 10,000 most common ones): the planner tells a
    # rare word (read its few items through the index) from a common one (walk the items
    # in id order, the first page is near).
    "ALTER TABLE annotation_itemsearchtext ALTER COLUMN keys SET STATISTICS 1000",
    "DROP INDEX IF EXISTS item_text_trgm",
    # The origin index serves the harm-category filter only: items without harm categories
    # (all but SafeRLHF's) leave it, so their status changes write no GIN entries for it.
    "DROP INDEX IF EXISTS item_origin_gin",
    "CREATE INDEX item_origin_gin ON annotation_item USING gin (origin jsonb_path_ops) "
    "WHERE status <> 'pending_translation' AND origin ? 'harm_categories'",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS item_search_text_insert ON annotation_item",
    "DROP TRIGGER IF EXISTS item_search_text_update ON annotation_item",
    "DROP FUNCTION IF EXISTS vad_item_search_text_sync()",
    "DROP FUNCTION IF EXISTS vad_search_keys(text)",
    "DROP INDEX IF EXISTS item_origin_gin",
    "CREATE INDEX item_origin_gin ON annotation_item USING gin (origin jsonb_path_ops) "
    "WHERE status <> 'pending_translation'",
    "CREATE INDEX IF NOT EXISTS item_text_trgm ON annotation_item USING gin "
    "((instruction || E'\\x1f' || input || E'\\x1f' || output) gin_trgm_ops) "
    "WHERE status <> 'pending_translation'",
]


class Migration(migrations.Migration):
    dependencies = [("annotation", "0010_job_heartbeat")]

    operations = [
        migrations.CreateModel(
            name="ItemSearchText",
            fields=[
                (
                    "item",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_text",
                        serialize=False,
                        to="annotation.item",
                    ),
                ),
                ("keys", annotation.fields.SearchKeysField()),
            ],
        ),
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(
                choices=[
                    ("import", "import"),
                    ("translate", "translate"),
                    ("evolve", "evolve"),
                    ("score", "score"),
                    ("filter", "filter"),
                    ("bulk_action", "bulk action"),
                    ("release", "release"),
                    ("rollback", "rollback"),
                ],
                max_length=16,
            ),
        ),
        migrations.RemoveConstraint(model_name="job", name="job_kind_valid"),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "import",
                            "translate",
                            "evolve",
                            "score",
                            "filter",
                            "bulk_action",
                            "release",
                            "rollback",
                        ],
                    )
                ),
                name="job_kind_valid",
            ),
        ),
    ]
