"""What an import asks the database while it writes: known keys and hashes, and a cancel.

During a one-COPY import (see copy_writer) the transaction's own connection is busy with the
COPY, so these questions go through a second connection in autocommit. That connection sees
the committed rows, which is what deduplication needs, except the rows this import has
written, which the run tracks itself (ImportRun.seen_keys, seen_hashes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from django.db import DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

from ...models import Item
from ..jobs import job_cancelled_query

logger = logging.getLogger(__name__)


def transaction_has_written() -> bool:
    """Whether the open transaction has written anything yet (it has a transaction id); a
    second connection would not see those rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned() IS NOT NULL")
        return bool(cursor.fetchone()[0])


@contextmanager
def separate_connection() -> Iterator[BaseDatabaseWrapper | None]:
    """A connection of its own to the same database, in autocommit, closed afterwards; None
    when the server refuses one (e.g. no connection slot left), so the import can go on
    batch by batch on its own connection instead of failing."""
    other = connection.copy()
    try:
        other.ensure_connection()
    except DatabaseError as exc:
        logger.warning("import: no second connection (%s); copying batch by batch", exc)
        other.close()
        yield None
        return
    try:
        yield other
    finally:
        other.close()


def job_was_cancelled(db: BaseDatabaseWrapper, job_id: int) -> bool:
    sql, params = job_cancelled_query(job_id=job_id).query.sql_with_params()
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def existing_values(db: BaseDatabaseWrapper, field_name: str, values: list[str]) -> set[str]:
    """The values of a unique Item column (source_key, content_hash) already in the table."""
    if not values:
        return set()
    if db.vendor != "postgresql":
        known = Item.objects.filter(**{f"{field_name}__in": values}).values_list(field_name)
        sql, params = known.order_by().query.sql_with_params()
    else:
        # One JSON parameter instead of thousands: cheaper to send and to parse, and since
        # the planner cannot see the array's size it always probes the unique index, even
        # while the statistics still describe the table as it was before this import began.
        quote = db.ops.quote_name
        column = quote(Item._meta.get_field(field_name).column)
        sql = (
            f"SELECT {column} FROM {quote(Item._meta.db_table)} "
            f"WHERE {column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"
        )
        params = [orjson.dumps(values).decode()]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}
