"""The VAD export (SPEC §1): one generator of byte chunks, shared by the API and export_items.

Memory stays flat however many items are exported: rows come from a server-side cursor as
plain tuples (never model instances), each fetched batch is encoded with orjson (keys in
SPEC order, UTF-8, nothing escaped but what JSON requires) and handed on in ~64 KB chunks.
"""

import itertools
import logging
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field

import orjson
from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .filters import InvalidFilters
from .models import ExportLog
from .selectors import export_filters_with_defaults, export_rows

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# Rows per round trip to the server-side cursor: big enough that the round trips are
# negligible, small enough that one batch's encoded bytes (~1.6 MB at 800 B a row) are too.
FETCH_ROWS = 2000
PREFETCH_BATCHES = 2


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    opening: bytes
    separator: bytes
    closing: bytes
    empty: bytes


# json: one array, a record a line inside it; jsonl: a record a line.
FORMATS: dict[str, ExportFormat] = {
    "json": ExportFormat("json", "application/json", "json", b"[\n", b",\n", b"\n]\n", b"[]\n"),
    "jsonl": ExportFormat("jsonl", "application/x-ndjson", "jsonl", b"", b"\n", b"\n", b""),
}


@dataclass
class ExportStream:
    """An export that has been checked and logged; iterate `chunks()` once to send it."""

    rows: QuerySet
    format: ExportFormat
    include_meta: bool
    log_id: int
    filename: str
    count: int = field(default=0, init=False)
    completed: bool = field(default=False, init=False)

    def chunks(self) -> Iterator[bytes]:
        """The export's bytes; the ExportLog gets the count when the stream ends."""
        try:
            # Inside a transaction PostgreSQL streams from a plain server-side cursor; in
            # autocommit Django would declare it WITH HOLD, which materialises the whole
            # result on the server before the first row comes back.
            with transaction.atomic(using=self.rows.db):
                yield from self._encoded_chunks()
            self.completed = True
        finally:
            # Also runs when the client goes away: the log then shows how far it got.
            self._log_result()

    def _log_result(self) -> None:
        try:
            ExportLog.objects.filter(pk=self.log_id).update(
                count=self.count, completed=self.completed
            )
        except DatabaseError:
            # The connection may be what failed; the stream's own error matters more.
            logger.exception("could not record the end of export %s", self.log_id)

    def _encoded_chunks(self) -> Iterator[bytes]:
        encode = _meta_records if self.include_meta else _plain_records
        separator = self.format.separator
        pending = self.format.opening
        # Closed explicitly, so that an abandoned stream stops its prefetch thread and
        # closes its cursor before the transaction ends.
        with closing(_row_batches(self.rows)) as batches:
            for batch in batches:
                data = separator.join(encode(batch))
                pending = pending + separator + data if self.count else pending + data
                self.count += len(batch)
                if len(pending) >= CHUNK_BYTES:
                    whole = len(pending) - len(pending) % CHUNK_BYTES
                    yield from _cut(memoryview(pending)[:whole])
                    pending = pending[whole:]
        if self.count == 0:
            yield self.format.empty
            return
        yield pending + self.format.closing


def export_open(
    *,
    fmt: str,
    filters: Mapping | None = None,
    include_meta: bool = False,
    user=None,
) -> ExportStream:
    """Check the request, log it, and return the stream to send.

    Raises InvalidFilters naming the parameter (format or a filter) that does not parse,
    before anything is logged or sent.
    """
    errors: dict[str, list[str]] = {}
    export_format = FORMATS.get(fmt)
    if export_format is None:
        errors["format"] = [f"{fmt!r} is not one of {', '.join(FORMATS)}."]
    try:
        rows = export_rows(filters=filters, include_meta=include_meta)
    except InvalidFilters as invalid:
        errors.update(invalid.errors)
    if errors:
        raise InvalidFilters(errors)
    logged_filters = export_filters_with_defaults(filters)
    if include_meta:
        logged_filters["include"] = "meta"
    log = ExportLog.objects.create(user=user, format=export_format.name, filters=logged_filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return ExportStream(
        rows=rows,
        format=export_format,
        include_meta=include_meta,
        log_id=log.pk,
        filename=f"vad-export-{stamp}.{export_format.extension}",
    )


def _row_batches(rows: QuerySet) -> Iterator[list[tuple]]:
    connection = connections[rows.db]
    if connection.vendor == "postgresql":
        return _prefetched(_postgres_batches(rows, connection))
    return _django_batches(rows)


def _django_batches(rows: QuerySet) -> Iterator[list[tuple]]:
    iterator = rows.iterator(chunk_size=FETCH_ROWS)
    while batch := list(itertools.islice(iterator, FETCH_ROWS)):
        yield batch


def _postgres_batches(rows: QuerySet, connection) -> Iterator[list[tuple]]:
    """The same rows as Django's iterator, read faster through psycopg directly.

    Binary transfer skips the text protocol's parsing (about 20% faster here), and the rows
    need none of Django's converters: text, floats and aware datetimes come out as they are.
    Call inside a transaction: a named cursor without HOLD lives in one. The connection is
    resolved here, in the caller's thread, because the batches may be read in another one.
    """
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    connection.ensure_connection()
    return _fetch_batches(connection.connection, connection.wrap_database_errors, sql, params)


def _fetch_batches(psycopg_connection, wrap_errors, sql: str, params) -> Iterator[list[tuple]]:
    cursor_name = f"vad_export_{uuid.uuid4().hex}"
    with wrap_errors, psycopg_connection.cursor(name=cursor_name, binary=True) as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(FETCH_ROWS):
            yield batch


_END = object()


def _prefetched(batches: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    """Read the next batch in a thread while the caller encodes this one.

    The driver releases the GIL while it waits for the server, so the database's work
    overlaps the encoding: up to 1.4x the throughput of fetching in line on an idle 2-core
    machine. The caller must not use the connection until this generator is closed, which
    joins the thread.
    """
    handoff: queue.Queue = queue.Queue(maxsize=PREFETCH_BATCHES)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)
        finally:
            batches.close()  # closes the server-side cursor, in the thread that used it

    producer = threading.Thread(target=produce, name="export-prefetch", daemon=True)
    producer.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join()


def _cut(data: memoryview) -> Iterator[bytes]:
    # A record may straddle two chunks: the receiver reads a byte stream, not records.
    for start in range(0, len(data), CHUNK_BYTES):
        yield bytes(data[start : start + CHUNK_BYTES])


def _plain_records(rows: list[tuple]) -> list[bytes]:
    dumps = orjson.dumps
    return [
        dumps(
            {
                "instruction": instruction,
                "input": input_,
                "output": output,
                "source": source,
                "categorization": categorization,
            }
        )
        for instruction, input_, output, source, categorization in rows
    ]


def _meta_records(rows: list[tuple]) -> list[bytes]:
    dumps = orjson.dumps
    local_zone = timezone.get_default_timezone()
    return [
        dumps(
            {
                "instruction": instruction,
                "input": input_,
                "output": output,
                "source": source,
                "categorization": categorization,
                "meta": {
                    "id": item_id,
                    "ifd": ifd,
                    "ifd_ppl": ifd_ppl,
                    "reviewer": reviewer,
                    # orjson writes aware datetimes as RFC 3339, offset included.
                    "reviewed_at": reviewed_at.astimezone(local_zone) if reviewed_at else None,
                    "license": license_,
                    "origin": _origin(origin_text),
                },
            }
        )
        for (
            instruction,
            input_,
            output,
            source,
            categorization,
            item_id,
            ifd,
            ifd_ppl,
            reviewer,
            reviewed_at,
            license_,
            origin_text,
        ) in rows
    ]


def _origin(text: str | None) -> object:
    """The stored JSON text, passed through without a parse and re-dump per row.

    PostgreSQL's jsonb text is already UTF-8 JSON. SQLite keeps what Django wrote, with
    non-ASCII as \\uXXXX escapes, which would break ensure_ascii=False: those are parsed.
    """
    if text is None:
        return None
    return orjson.loads(text) if "\\u" in text else orjson.Fragment(text)
