"""import_file: one pass over a file, in one transaction; ImportRun holds that pass's state.

Records are parsed and checked in a thread (BackgroundParser), deduplicated a batch at a
time against the file itself and the database (lookups), and written (copy_writer).
Progress goes to the cache after every batch, because nothing inside the open transaction is
visible to the job page until it commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ...errors import RowError
from ...importers import ImportOptions, ItemDraft, RecordStream, UnreadableFile, get_format
from ...importers.parsing import BackgroundParser
from ...models import Job
from ..jobs import job_publish_progress
from ..search import search_text_deferred
from .copy_writer import ItemWriter
from .lookups import (
    existing_values,
    job_was_cancelled,
    separate_connection,
    transaction_has_written,
)
from .report import (
    REJECT_AFTER_ERRORS,
    ImportCancelled,
    ImportFileRejected,
    ImportProgress,
    ImportReport,
    ProgressCallback,
)
from .request import ImportRequest

# PostgreSQL advisory lock (class, key) held by every writing import until it commits, so
# two imports never write at once: the second waits, then finds the first's rows committed
# and counts them as duplicates instead of failing on the unique indexes (one import
# uses the CPU of a core and a connection or two anyway).
IMPORT_LOCK = (0x56414449, 0)  # "VADI"; keys 1.. are import jobs (jobs.py)


class ImportRun:
    """The state of one pass over a file; import_file below is its only user."""

    def __init__(
        self,
        *,
        stream: RecordStream,
        convert: Callable,
        report: ImportReport,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.stream = stream
        self.convert = convert
        self.report = report
        self.job_id = report.job_id
        self.on_progress = on_progress
        self.batch_size = settings.VAD_IMPORT_BATCH_SIZE
        self.writer = ItemWriter(job_id=self.job_id, batch_size=self.batch_size)
        # Where duplicates and cancellation are looked up: see lookups.py.
        self.lookups: BaseDatabaseWrapper = connection
        self.rejecting = False  # a bad row was seen without skip_invalid: only validate on
        self.pending: list[ItemDraft] = []
        # Keys and hashes kept so far, so a file that repeats a row creates it once.
        self.seen_keys: set[str] = set()
        self.seen_hashes: set[str] = set()

    def run(self) -> None:
        report, batch_size = self.report, self.batch_size
        with ExitStack() as stack:
            if self.writer.use_copy and not report.dry_run and not transaction_has_written():
                other = stack.enter_context(separate_connection())
                if other is not None:
                    self.lookups = other
                    stack.enter_context(self.writer.one_copy())
            chunks = stack.enter_context(BackgroundParser(self.stream, self.convert))
            for chunk in chunks:
                for _line, outcome in chunk:
                    report.read += 1
                    if outcome is None:
                        report.not_selected += 1
                    elif isinstance(outcome, RowError):
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
        if self.job_id is not None and job_was_cancelled(self.lookups, self.job_id):
            raise ImportCancelled(f"import job {self.job_id} was cancelled")
        new = self._new_drafts(drafts)
        if not self.report.dry_run:
            self.writer.write(new)
        self.report.created += len(new)

    def _new_drafts(self, drafts: list[ItemDraft]) -> list[ItemDraft]:
        """Drop the drafts whose source key or content the database already holds."""
        keys = [d.source_key for d in drafts if d.source_key is not None]
        known_keys = existing_values(self.lookups, "source_key", keys)
        known_hashes = existing_values(
            self.lookups, "content_hash", [d.content_hash for d in drafts]
        )
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


def _wait_for_other_imports() -> None:
    """Hold IMPORT_LOCK until this transaction ends (waiting while another import holds it)."""
    if connection.vendor != "postgresql":
        return  # SQLite lets one writer at a time in anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", IMPORT_LOCK)


def import_file(
    *,
    request: ImportRequest,
    user=None,
    job: Job | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one file in one transaction; raises ImportFileRejected and writes nothing on bad
    input (unless skip_invalid, which skips and lists bad rows). A dry run never writes.

    The new items are searchable once the follow-up of the commit has indexed their text
    (annotation.search): the import itself leaves that out, so it writes only the item rows.
    """
    import_format = get_format(request.format)
    report = ImportReport(
        format=request.format,
        rule=request.rule,
        file=request.name,
        dry_run=request.dry_run,
        skip_invalid=request.skip_invalid,
        job_id=job.pk if job is not None else None,
        user=getattr(user, "username", None),
    )
    started = time.monotonic()
    try:
        stream = _open_stream(request, line_decoder=import_format.line_decoder)
        report.file_kind = stream.kind
        convert = import_format.make_converter(
            ImportOptions(
                rule=request.rule,
                file_name=request.name,
                config=request.config,
                split=request.split,
            )
        )
        run = ImportRun(stream=stream, convert=convert, report=report, on_progress=on_progress)
        with transaction.atomic():
            if request.dry_run:
                run.run()
            else:
                _wait_for_other_imports()
                with search_text_deferred(import_job_id=report.job_id):
                    run.run()
            if report.invalid and not request.skip_invalid:
                raise ImportFileRejected(report.errors[:REJECT_AFTER_ERRORS], report=report)
    except UnreadableFile as exc:
        errors = [*report.errors[: REJECT_AFTER_ERRORS - 1], exc.error]
        raise ImportFileRejected(errors, report=report) from None
    finally:
        report.seconds = time.monotonic() - started
    return report


def _open_stream(request: ImportRequest, *, line_decoder: Callable[[bytes], Any] | None):
    try:
        return RecordStream(
            request.path,
            display_name=request.name,
            max_record_bytes=settings.VAD_IMPORT_MAX_RECORD_BYTES,
            line_decoder=line_decoder,
        )
    except OSError as exc:
        message = f"cannot open the file: {exc.strerror or exc}"
        raise UnreadableFile(
            RowError(path=request.name, line=0, field="", message=message)
        ) from None
