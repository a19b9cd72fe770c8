"""Imports (SPEC §3): a dataset file becomes items in one transaction, or nothing does.

The file is streamed: records are parsed and checked one by one (in a thread, while the
database stores earlier rows), then deduplicated against the database a batch at a time (one
query for known source keys, one for known content hashes) and written.

On PostgreSQL the rows go through COPY. When the transaction has written nothing before the
import, which is the case for the command and for import jobs, one COPY stays open for the
whole file and the lookups go through a second connection: that connection sees what the
transaction sees (committed rows) except the import's own rows, which the importer tracks
itself, so the server stores rows while the next batch is being checked instead of waiting
for a COPY per batch. Otherwise (an import inside a larger transaction that wrote before,
or a server that refuses the second connection) each batch is looked up and copied on the
transaction's own connection. Elsewhere (the SQLite quick start) bulk INSERT stands in for
COPY.

Progress goes to the cache after every batch, because nothing inside the open transaction is
visible to the job page until it commits.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import get_valid_filename
from psycopg import Copy
from psycopg.types.json import set_json_dumps

from ..errors import ImportRejected, RollbackRefused, RowError
from ..importers import (
    ImportOptions,
    ItemDraft,
    RecordStream,
    UnreadableFile,
    get_format,
    resolve_rule,
)
from ..importers.parsing import BackgroundParser
from ..models import REVIEWED_STATUSES, Item, ItemRevision, Job
from .jobs import (
    job_cancelled_query,
    job_create,
    job_fail,
    job_publish_progress,
    job_start,
    job_succeed,
)

logger = logging.getLogger(__name__)

# A rejected file lists this many bad rows, then reading stops: enough to see the pattern.
REJECT_AFTER_ERRORS = 20
# A report of an import run with --skip-invalid lists this many skipped rows, then counts.
REPORT_MAX_ERRORS = 1000
# Namespace of the PostgreSQL advisory locks that keep two workers off the same import job.
_ADVISORY_LOCK_CLASS = 0x56414449  # "VADI"


class UploadTooLarge(ValueError):
    pass


class ImportCancelled(Exception):
    """The job was cancelled while running; the transaction is rolled back."""


@dataclass
class ImportReport:
    format: str
    rule: str
    file: str
    file_kind: str = ""
    dry_run: bool = False
    skip_invalid: bool = False
    job_id: int | None = None
    user: str | None = None
    read: int = 0
    created: int = 0
    duplicates_source_key: int = 0
    duplicates_content_hash: int = 0
    not_selected: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_not_listed: int = 0
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.duplicates_source_key + self.duplicates_content_hash

    def add_error(self, error: RowError) -> None:
        self.invalid += 1
        if len(self.errors) < REPORT_MAX_ERRORS:
            self.errors.append(error)
        else:
            self.errors_not_listed += 1

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "rule": self.rule,
            "file": self.file,
            "file_kind": self.file_kind,
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "job_id": self.job_id,
            "user": self.user,
            "read": self.read,
            "created": self.created,
            "duplicates": self.duplicates,
            "duplicates_source_key": self.duplicates_source_key,
            "duplicates_content_hash": self.duplicates_content_hash,
            "not_selected": self.not_selected,
            "invalid": self.invalid,
            "errors": [e.as_dict() for e in self.errors],
            "errors_not_listed": self.errors_not_listed,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        return import_report_summary(self.as_dict())


def import_report_summary(report: dict) -> str:
    """One line for people: what an import (or a dry run) did, from its report."""
    created = "would create" if report.get("dry_run") else "created"
    return (
        f"{report.get('file')}: {report.get('read', 0)} read, {report.get('created', 0)} "
        f"{created}, {report.get('duplicates', 0)} duplicates "
        f"({report.get('duplicates_source_key', 0)} by source key, "
        f"{report.get('duplicates_content_hash', 0)} by content), "
        f"{report.get('not_selected', 0)} not selected, {report.get('invalid', 0)} invalid, "
        f"in {report.get('seconds', 0):.1f} s"
    )


class ImportFileRejected(ImportRejected):
    """ImportRejected with the counts reached before reading stopped."""

    def __init__(self, errors: list[RowError], *, report: ImportReport) -> None:
        super().__init__(errors)
        self.report = report

    def report_dict(self) -> dict:
        return {
            **self.report.as_dict(),
            "created": 0,
            "rejected": True,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class ImportProgress:
    read: int
    estimated_total: int
    position: int  # bytes of the file consumed
    size: int


ProgressCallback = Callable[[ImportProgress], None]


class _ImportRun:
    """The state of one pass over a file; import_file below is its only user."""

    def __init__(
        self,
        *,
        stream: RecordStream,
        convert: Callable,
        report: ImportReport,
        job_id: int | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.stream = stream
        self.convert = convert
        self.report = report
        self.job_id = job_id
        self.on_progress = on_progress
        self.batch_size = settings.VAD_IMPORT_BATCH_SIZE
        self.writer = _ItemWriter(job_id=job_id, batch_size=self.batch_size)
        # Where duplicates and cancellation are looked up: see the module's docstring.
        self.lookups: BaseDatabaseWrapper = connection
        self.rejecting = False  # a bad row was seen without skip_invalid: only validate on
        self.pending: list[ItemDraft] = []
        # Keys and hashes kept so far, so a file that repeats a row creates it once.
        self.seen_keys: set[str] = set()
        self.seen_hashes: set[str] = set()

    def run(self) -> None:
        report, batch_size = self.report, self.batch_size
        with ExitStack() as stack:
            if self.writer.use_copy and not report.dry_run and not _transaction_has_written():
                other = stack.enter_context(_separate_connection())
                if other is not None:
                    self.lookups = other
                    stack.enter_context(self.writer.one_copy())
            chunks = stack.enter_context(BackgroundParser(self.stream, self.convert))
            for chunk in chunks:
                for _line, outcome in chunk:
                    report.read += 1
                    if outcome is None:
                        report.not_selected += 1
                    elif type(outcome) is RowError:
                        if self._bad_row(outcome):
                            return
                    else:
                        self._keep(outcome)
                    if report.read % batch_size == 0:
                        self._publish_progress()
            self._flush()
        self._publish_progress()

    def _keep(self, draft: ItemDraft) -> None:
        key = draft.source_key
        if key is not None and key in self.seen_keys:
            self.report.duplicates_source_key += 1
            return
        if draft.content_hash in self.seen_hashes:
            self.report.duplicates_content_hash += 1
            return
        if key is not None:
            self.seen_keys.add(key)
        self.seen_hashes.add(draft.content_hash)
        if self.rejecting:
            return
        self.pending.append(draft)
        if len(self.pending) >= self.batch_size:
            self._flush()

    def _bad_row(self, error: RowError) -> bool:
        """Record a bad row; True when reading should stop."""
        self.report.add_error(error)
        if self.report.skip_invalid:
            return False
        self.rejecting = True
        self.pending = []
        return self.report.invalid >= REJECT_AFTER_ERRORS

    def _flush(self) -> None:
        drafts, self.pending = self.pending, []
        if not drafts or self.rejecting:
            return
        if self.job_id is not None and _fetch(
            self.lookups, job_cancelled_query(job_id=self.job_id)
        ):
            raise ImportCancelled(f"import job {self.job_id} was cancelled")
        new = self._new_drafts(drafts)
        if not self.report.dry_run:
            self.writer.write(new)
        self.report.created += len(new)

    def _new_drafts(self, drafts: list[ItemDraft]) -> list[ItemDraft]:
        """Drop the drafts whose source key or content the database already holds."""
        keys = [d.source_key for d in drafts if d.source_key is not None]
        known_keys = _existing(self.lookups, "source_key", keys)
        known_hashes = _existing(self.lookups, "content_hash", [d.content_hash for d in drafts])
        new = []
        for draft in drafts:
            if draft.source_key is not None and draft.source_key in known_keys:
                self.report.duplicates_source_key += 1
            elif draft.content_hash in known_hashes:
                self.report.duplicates_content_hash += 1
            else:
                new.append(draft)
        return new

    def _publish_progress(self) -> None:
        read = self.report.read
        position, size = self.stream.position(), self.stream.size
        estimated = max(read, read * size // position) if position else read
        if self.job_id is not None:
            job_publish_progress(job_id=self.job_id, done=read, total=estimated)
        if self.on_progress is not None:
            self.on_progress(
                ImportProgress(read=read, estimated_total=estimated, position=position, size=size)
            )


def _transaction_has_written() -> bool:
    """Whether the open transaction has written anything yet (it has a transaction id)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current_if_assigned() IS NOT NULL")
        return bool(cursor.fetchone()[0])


@contextmanager
def _separate_connection() -> Iterator[BaseDatabaseWrapper | None]:
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


def _fetch(db: BaseDatabaseWrapper, queryset: QuerySet) -> list[tuple]:
    """The rows of a queryset, read through the given connection."""
    sql, params = queryset.query.sql_with_params()
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _existing(db: BaseDatabaseWrapper, field_name: str, values: list[str]) -> set[str]:
    """The values of a unique Item column that the database already holds."""
    if not values:
        return set()
    if db.vendor != "postgresql":
        known = Item.objects.filter(**{f"{field_name}__in": values}).order_by()
        return {row[0] for row in _fetch(db, known.values_list(field_name))}
    # One JSON parameter instead of thousands: cheaper to send and to parse, and since the
    # planner cannot see the array's size it always probes the unique index, even while
    # the statistics still describe the table as it was before this import began.
    quote = db.ops.quote_name
    column = quote(Item._meta.get_field(field_name).column)
    sql = (
        f"SELECT {column} FROM {quote(Item._meta.db_table)} "
        f"WHERE {column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [_json_text(values)])
        return {row[0] for row in cursor.fetchall()}


class _ItemWriter:
    """Write drafts as Item rows: COPY on PostgreSQL, bulk_create elsewhere (the SQLite quick
    start). COPY streams rows that the server parses while we prepare the next ones; for
    rows of a few kilobytes it is several times faster than a multi-row INSERT."""

    # Item fields an import sets per row, in the order of the tuples _copy builds.
    ROW_FIELDS = (
        "instruction",
        "input",
        "output",
        "source",
        "categorization",
        "status",
        "source_key",
        "content_hash",
        "origin",
        "flags",
        "import_job",
    )

    def __init__(self, *, job_id: int | None, batch_size: int, use_copy: bool | None = None):
        self.job_id = job_id
        self.batch_size = batch_size
        self.use_copy = connection.vendor == "postgresql" if use_copy is None else use_copy
        self.started = False
        self._copy_stream: Copy | None = None
        if self.use_copy:
            self._prepare_copy()

    def _prepare_copy(self) -> None:
        # Every other column gets the value the model would give it, so a field added to
        # Item later (with a default) needs no change here.
        now = timezone.now()
        row_fields = [Item._meta.get_field(name) for name in self.ROW_FIELDS]
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
            self._copy_stream = copy
            try:
                yield
            finally:
                self._copy_stream = None

    def write(self, drafts: list[ItemDraft]) -> None:
        if not drafts:
            return
        if self._copy_stream is not None:
            self._write_rows(self._copy_stream, drafts)
        elif self.use_copy:
            with self._open_copy() as copy:
                self._write_rows(copy, drafts)
        else:
            self._bulk_create(drafts)

    @contextmanager
    def _open_copy(self) -> Iterator[Copy]:
        if not self.started:
            _prefer_lz4_compression()
            self.started = True
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor
            set_json_dumps(orjson.dumps, context=cursor)  # origin and flags, as JSON
            with cursor.copy(self.copy_sql) as copy:
                copy.set_types(self.column_types)
                yield copy

    def _write_rows(self, copy: Copy, drafts: list[ItemDraft]) -> None:
        job_id, constants, write_row = self.job_id, self.constants, copy.write_row
        for d in drafts:
            write_row(
                (
                    d.instruction,
                    d.input,
                    d.output,
                    d.source,
                    d.categorization,
                    d.status,
                    d.source_key,
                    d.content_hash,
                    d.origin,
                    d.flags,
                    job_id,
                    *constants,
                )
            )

    def _bulk_create(self, drafts: list[ItemDraft]) -> None:
        Item.objects.bulk_create(
            (
                Item(
                    instruction=d.instruction,
                    input=d.input,
                    output=d.output,
                    source=d.source,
                    categorization=d.categorization,
                    status=d.status,
                    source_key=d.source_key,
                    content_hash=d.content_hash,
                    origin=d.origin,
                    flags=d.flags,
                    import_job_id=self.job_id,
                )
                for d in drafts
            ),
            batch_size=self.batch_size,
        )


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


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


def import_file(
    *,
    path: str | os.PathLike,
    fmt: str,
    rule: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    user=None,
    job: Job | None = None,
    display_name: str | None = None,
    config: str | None = None,
    split: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one file in one transaction; raises ImportFileRejected and writes nothing on bad
    input (unless skip_invalid, which skips and lists bad rows). dry_run never writes.

    `display_name` names the file in messages (e.g. the uploaded name, not the storage path);
    `config` and `split` override what is inferred from the file name (SafeRLHF provenance).
    """
    import_format = get_format(fmt)
    rule = resolve_rule(import_format, rule)
    name = display_name or str(path)
    report = ImportReport(
        format=import_format.name,
        rule=rule,
        file=name,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        job_id=job.pk if job is not None else None,
        user=getattr(user, "username", None),
    )
    started = time.monotonic()
    try:
        stream = _open_stream(path, name, line_decoder=import_format.line_decoder)
        report.file_kind = stream.kind
        convert = import_format.make_converter(
            ImportOptions(rule=rule, file_name=name, config=config, split=split)
        )
        run = _ImportRun(
            stream=stream,
            convert=convert,
            report=report,
            job_id=report.job_id,
            on_progress=on_progress,
        )
        with transaction.atomic():
            run.run()
            if report.invalid and not skip_invalid:
                raise ImportFileRejected(report.errors[:REJECT_AFTER_ERRORS], report=report)
    except UnreadableFile as exc:
        errors = [*report.errors[: REJECT_AFTER_ERRORS - 1], exc.error]
        raise ImportFileRejected(errors, report=report) from None
    finally:
        report.seconds = time.monotonic() - started
    return report


def _open_stream(
    path: str | os.PathLike, name: str, *, line_decoder: Callable[[bytes], Any] | None
) -> RecordStream:
    try:
        return RecordStream(
            path,
            display_name=name,
            max_record_bytes=settings.VAD_IMPORT_MAX_RECORD_BYTES,
            line_decoder=line_decoder,
        )
    except OSError as exc:
        message = f"cannot open the file: {exc.strerror or exc}"
        raise UnreadableFile(RowError(path=name, line=0, field="", message=message)) from None


# Jobs: the upload, the task's body, and rollback.


def _safe_file_name(name: str) -> str:
    try:
        return get_valid_filename(PurePath(name).name)[-200:]
    except SuspiciousFileOperation:
        return "upload"


def _store_upload(*, job_id: int, uploaded_file: UploadedFile) -> Path:
    limit = settings.VAD_UPLOAD_MAX_BYTES
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise UploadTooLarge(f"the file is larger than the limit of {limit} bytes")
    folder = Path(settings.MEDIA_ROOT) / "imports" / str(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _safe_file_name(uploaded_file.name or "upload")
    written = 0
    try:
        with target.open("wb") as out:
            for chunk in uploaded_file.chunks():
                written += len(chunk)
                if written > limit:  # the declared size may be missing or wrong
                    raise UploadTooLarge(f"the file is larger than the limit of {limit} bytes")
                out.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


@transaction.atomic
def import_job_create(
    *,
    fmt: str,
    uploaded_file: UploadedFile | None = None,
    path: str | os.PathLike | None = None,
    rule: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    user=None,
    config: str | None = None,
    split: str | None = None,
    enqueue: bool = True,
) -> Job:
    """An import job for an upload (stored under MEDIA_ROOT/imports/<job id>/) or a file on
    the server. With enqueue, the import task starts once the job is committed."""
    if (uploaded_file is None) == (path is None):
        raise ValueError("give either uploaded_file or path")
    import_format = get_format(fmt)
    rule = resolve_rule(import_format, rule)
    job = job_create(kind=Job.Kind.IMPORT, params={}, user=user)
    if uploaded_file is not None:
        stored = _store_upload(job_id=job.pk, uploaded_file=uploaded_file)
        file_name, file_path = stored.name, stored
    else:
        file_name, file_path = str(path), Path(path).resolve()
    job.params = {
        "format": import_format.name,
        "rule": rule,
        "skip_invalid": skip_invalid,
        "dry_run": dry_run,
        "file_name": file_name,
        "path": str(file_path),
        "config": config,
        "split": split,
    }
    job.save(update_fields=["params", "updated_at"])
    if enqueue:
        from ..tasks import run_import  # the task module imports the services

        job_id = job.pk
        transaction.on_commit(lambda: run_import.delay(job_id))
    return job


def _lock_job(job_id: int) -> bool:
    """Hold the job for this transaction; False when another worker runs it already."""
    if connection.vendor != "postgresql":
        return True  # the quick start runs tasks in-process, one at a time
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [_ADVISORY_LOCK_CLASS, job_id % 2**31]
        )
        return bool(cursor.fetchone()[0])


def import_job_run(*, job_id: int, on_progress: ProgressCallback | None = None) -> Job:
    """Run an import job. Safe to run twice: a finished job is left as it is, and the items
    and the job's success commit together, so a worker killed midway leaves nothing.

    Not one atomic block as a whole: "running" must commit before the import's long
    transaction begins, and a failure must be recorded after that transaction rolled back.
    """
    job = Job.objects.get(pk=job_id, kind=Job.Kind.IMPORT)
    if job.is_finished:
        return job
    job = job_start(job_id=job_id)
    params = job.params
    try:
        with transaction.atomic():
            if not _lock_job(job_id):
                return job
            report = import_file(
                path=params["path"],
                fmt=params["format"],
                rule=params.get("rule"),
                skip_invalid=bool(params.get("skip_invalid")),
                dry_run=bool(params.get("dry_run")),
                user=job.created_by,
                job=job,
                display_name=params.get("file_name"),
                config=params.get("config"),
                split=params.get("split"),
                on_progress=on_progress,
            )
            # A cancel that came after the last batch still wins: it undoes the import.
            if Job.objects.select_for_update().get(pk=job_id).status == Job.State.CANCELLED:
                raise ImportCancelled(f"import job {job_id} was cancelled")
            Job.objects.filter(pk=job_id).update(total=report.read)
            return job_succeed(job_id=job_id, report=report.as_dict(), done=report.read)
    except ImportFileRejected as exc:
        return job_fail(job_id=job_id, error=str(exc), report=exc.report_dict())
    except ImportRejected as exc:
        return job_fail(job_id=job_id, error=str(exc), report={"errors": _dicts(exc.errors)})
    except ImportCancelled:
        return Job.objects.get(pk=job_id)
    except Exception as exc:
        job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise


def _dicts(errors: Iterable[RowError]) -> list[dict]:
    return [e.as_dict() for e in errors]


def _rollback_refusal(job: Job) -> str | None:
    """Why this import may not be rolled back, or None when it may."""
    if job.kind != Job.Kind.IMPORT:
        return f"job {job.pk} is a {job.kind} job, not an import"
    rollback = job.report.get("rollback")
    if rollback:
        return f"import {job.pk} was already rolled back ({rollback.get('at')})"
    if job.status != Job.State.SUCCEEDED:
        return f"import {job.pk} has status {job.status}: it wrote nothing to roll back"
    if job.params.get("dry_run"):
        return f"import {job.pk} was a dry run: it wrote nothing"
    items = Item.objects.filter(import_job_id=job.pk)
    reviewed = items.filter(
        Q(reviewer__isnull=False) | Q(reviewed_at__isnull=False) | Q(status__in=REVIEWED_STATUSES)
    ).values_list("pk", flat=True)
    edited = (
        ItemRevision.objects.filter(item__import_job_id=job.pk, user__isnull=False)
        .values_list("item_id", flat=True)
        .distinct()
    )
    children = (
        Item.objects.filter(parent__import_job_id=job.pk)
        .exclude(import_job_id=job.pk)
        .values_list("pk", flat=True)
    )
    for ids, what in (
        (reviewed, "have been reviewed"),
        (edited, "have been changed by a person"),
        (children, "are items derived from this import's items"),
    ):
        found = list(ids[:6])
        if found:
            shown = ", ".join(str(i) for i in found[:5]) + (", ..." if len(found) > 5 else "")
            return f"import {job.pk} cannot be rolled back: items {shown} {what}"
    return None


@transaction.atomic
def import_rollback(*, job_id: int, user=None) -> int:
    """Delete every item of an import, while none has been reviewed or built upon.

    Returns how many items were deleted; raises RollbackRefused saying why otherwise.
    """
    job = Job.objects.select_for_update().get(pk=job_id)
    # Lock the items first so a reviewer cannot accept one between the check and the delete.
    list(Item.objects.select_for_update().filter(import_job_id=job_id).values_list("pk", flat=True))
    refusal = _rollback_refusal(job)
    if refusal:
        raise RollbackRefused(refusal)
    # only("pk"): the delete collector need not load every item's text into memory.
    _total, per_model = Item.objects.filter(import_job_id=job_id).only("pk").delete()
    items_deleted = per_model.get(Item._meta.label, 0)
    job.report = {
        **job.report,
        "rollback": {
            "at": timezone.now().isoformat(),
            "by": getattr(user, "username", None),
            "deleted": items_deleted,
        },
    }
    job.save(update_fields=["report", "updated_at"])
    return items_deleted
