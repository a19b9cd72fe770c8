"""Write different values into many rows with one statement."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


def bulk_update_fields(objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Store ``fields`` of every object in ``objs`` (all of one model); returns rows updated.

    On PostgreSQL: one ``UPDATE ... FROM unnest(<an array per column>)``, with each value
    prepared by its field as Django prepares it; elsewhere ``QuerySet.bulk_update``. That
    builds a ``CASE WHEN pk = ... THEN ...`` per row and field, and resolving those costs
    milliseconds of Python a row: a score chunk (256 items, 8 fields) took 0.71-0.80 s on
    average to write that way, longer than a GPU should take to score it, and 0.19-0.23 s this
    way (median 69-86 ms; bench/score_writes.py).
    """
    if not objs:
        return 0
    model = type(objs[0])
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_update(objs, fields)

    quote = connection.ops.quote_name
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    arrays = [
        [column.get_db_prep_value(getattr(obj, column.attname), connection) for obj in objs]
        for column in columns
    ]
    unnest = ", ".join(f"%s::{_array_type(column, connection)}[]" for column in columns)
    names = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(
        f"{quote(column.column)} = new.{quote(column.column)}" for column in columns[1:]
    )
    table = quote(model._meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS new ({names}) "
        f"WHERE {table}.{quote(pk.column)} = new.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def _array_type(column: Field, connection: BaseDatabaseWrapper) -> str:
    db_type = column.db_type(connection)
    # An explicit cast to varchar(n) cuts longer text silently; text assigned to the column
    # is checked against its length, as in an INSERT.
    return "text" if db_type.startswith("varchar") else db_type
