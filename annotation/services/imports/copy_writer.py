"""Writing drafts as Item rows: binary COPY on PostgreSQL, bulk_create elsewhere.

COPY streams rows that the server parses while we prepare the next ones; for rows of a few
kilobytes it is several times faster than a multi-row INSERT. Two ways to use it:
- one COPY for the whole import (`ItemWriter.one_copy`), while the lookups go through a
  second connection: the server stores rows while the next batch is being checked. In
  alternating runs of a prototype, 1.53 s against 1.95 s for a SafeRLHF import, and the
  best-of-three import ratio 21.4-23.0x against 16.1-17.0x with a COPY per batch (README);
- a COPY per batch, on the transaction's own connection, when a second connection cannot
  be used (the transaction wrote before the import, or the server refuses a connection).
Elsewhere (the SQLite quick start) bulk_create stands in for COPY.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from operator import attrgetter

import orjson
from django.db import connection
from django.utils import timezone
from psycopg import Copy
from psycopg.types.json import set_json_dumps

from ...importers import ItemDraft
from ...models import Item

# The one list of the fields an import sets per row: those of the draft, in its order.
DRAFT_FIELDS = tuple(f.name for f in dataclasses.fields(ItemDraft))
# A draft's values as a tuple, in DRAFT_FIELDS order (attrgetter builds it in C).
draft_values = attrgetter(*DRAFT_FIELDS)


class ItemWriter:
    """Writes drafts of one import (rows of `job_id`, when there is a job) in batches."""

    def __init__(
        self, *, job_id: int | None, batch_size: int, use_copy: bool | None = None
    ) -> None:
        self.job_id = job_id
        self.batch_size = batch_size
        # COPY wherever the database has it; use_copy=False forces bulk_create (tests).
        self.use_copy = connection.vendor == "postgresql" if use_copy is None else use_copy
        self._copy: Copy | None = None  # the COPY of one_copy, while it is open
        self._session_set = False
        if self.use_copy:
            self._prepare_copy()

    def _prepare_copy(self) -> None:
        # Every column the draft does not set gets the value the model would give it, so a
        # field added to Item later (with a default) needs no change here.
        now = timezone.now()
        row_fields = [Item._meta.get_field(name) for name in (*DRAFT_FIELDS, "import_job")]
        other_fields = [
            f for f in Item._meta.concrete_fields if not f.primary_key and f not in row_fields
        ]
        self.constants = tuple(
            now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else f.get_db_prep_save(f.get_default(), connection)
            for f in other_fields
        )
        table = Item._meta.db_table
        columns = [f.column for f in [*row_fields, *other_fields]]
        quote = connection.ops.quote_name
        # Binary COPY: the server takes each value as it is instead of parsing text, which
        # took about a quarter of its CPU off a SafeRLHF import.
        self.copy_sql = (
            f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN (FORMAT BINARY)"
        )
        self.column_types = _column_type_oids(table, columns)

    @contextmanager
    def one_copy(self) -> Iterator[None]:
        """Send every write of the block through one COPY, ended when the block ends.

        Nothing else may run on the transaction's connection meanwhile. An exception in
        the block aborts the COPY, and with it the transaction. The COPY is one statement
        as long as the whole import, so a statement_timeout set for web requests (per
        batch it would never have been reached) is lifted for this transaction.
        """
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
        with self._open_copy() as copy:
            self._copy = copy
            try:
                yield
            finally:
                self._copy = None

    def write(self, drafts: list[ItemDraft]) -> None:
        if not drafts:
            return
        if self._copy is not None:
            self._write_rows(self._copy, drafts)
        elif self.use_copy:
            with self._open_copy() as copy:
                self._write_rows(copy, drafts)
        else:
            Item.objects.bulk_create(
                (
                    Item(
                        **dict(zip(DRAFT_FIELDS, draft_values(d), strict=True)),
                        import_job_id=self.job_id,
                    )
                    for d in drafts
                ),
                batch_size=self.batch_size,
            )

    @contextmanager
    def _open_copy(self) -> Iterator[Copy]:
        if not self._session_set:
            _prefer_lz4_compression()
            self._session_set = True
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor
            set_json_dumps(orjson.dumps, context=cursor)  # origin and flags, as JSON
            with cursor.copy(self.copy_sql) as copy:
                copy.set_types(self.column_types)
                yield copy

    def _write_rows(self, copy: Copy, drafts: list[ItemDraft]) -> None:
        tail = (self.job_id, *self.constants)
        for draft in drafts:
            copy.write_row(draft_values(draft) + tail)


def _column_type_oids(table: str, columns: list[str]) -> list[int]:
    """The type of each column, in order, as binary COPY needs them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [connection.ops.quote_name(table)],
        )
        oids = dict(cursor.fetchall())
    return [oids[column] for column in columns]


def _prefer_lz4_compression() -> None:
    """Compress the large values this transaction writes with lz4 instead of pglz.

    About 10% off an import of kilobyte-sized texts; reading is unaffected (every value
    records its own method). SET LOCAL ends with the transaction. Skipped where the server
    has no lz4 (PostgreSQL < 14, or built without it).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("SET LOCAL default_toast_compression = 'lz4'")
