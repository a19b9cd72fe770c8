"""Model fields with database behaviour of their own."""

from django.db import models


class AsciiKeyField(models.CharField):
    """A CharField for ASCII keys matched only for equality (hex digests, source keys).

    On PostgreSQL the column gets the "C" collation: its B-tree compares bytes instead of
    going through the locale, which makes inserts into a unique index on random keys cheaper
    (a SafeRLHF import spent about a fifth less time writing), and LIKE 'prefix%' can use
    that index directly. Declare uniqueness with a UniqueConstraint rather than unique=True,
    which would add a second varchar_pattern_ops index that such a column does not need.
    """

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters


class SearchKeysField(models.Field):
    """The search keys of a text (annotation.search): an int4[] on PostgreSQL, which a GIN
    index serves. Elsewhere (SQLite, where search scans the items) a text column that
    stays empty."""

    description = "search keys (int4[])"

    def db_type(self, connection):
        return "int4[]" if connection.vendor == "postgresql" else "text"
