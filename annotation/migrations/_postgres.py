"""Raw SQL that only PostgreSQL has (GIN, trigram and partial indexes) for RunPython.

Django's migration loader skips modules whose names start with an underscore, so this
helper is shared by the migrations and is not one itself.
"""


def run_on_postgresql(statements: list[str]):
    """A RunPython function that executes ``statements`` on PostgreSQL and nothing elsewhere
    (SQLite, the quick start, has none of these indexes and scans)."""

    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return apply
