"""Writes of the search keys (annotation.search) that the trigger leaves to us: imports.

An import inserts its rows with the trigger held off (search_text_deferred), so its COPY writes
only item rows, and once it has committed a follow-up task computes the keys of its items
here, in batches that each commit (searchable a batch at a time; a killed worker leaves
the rest for the next run, which skips items that have keys).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from ..models import Item, ItemSearchText, Job
from ..search import SEARCH_TEXT_SQL, search_keys

# Set for its transaction by an import: the insert trigger then leaves the keys to us.
DEFERRED_SETTING = "vad.search_deferred"
FILL_BATCH_SIZE = 5000
INDEX_NAME = "item_search_keys"  # migration 0007
# The fill lets new keys gather in the GIN index's pending list (up to this size) and
# merges them into the index every MERGE_EVERY items, with MERGE_MEMORY: 10k items went in
# 3.7 ms each with the default 4 MB list (a merge every few hundred items, each rewriting
# the last posting page of thousands of keys), 1.1 ms with merges of 50k (same session,
# loaded machine). A merge costs about the same whatever it brings (a page per key), so
# merges are rare; searches read the pending list in full meanwhile, hence a bound.
PENDING_LIST_LIMIT = "2GB"  # PostgreSQL's maximum
MERGE_EVERY = 200_000
MERGE_MEMORY = "1GB"  # ~230 keys an item, 6 bytes each: 200k items need about 300 MB


@contextmanager
def search_text_deferred(*, import_job_id: int | None) -> Iterator[None]:
    """Inside the block, items inserted get no search keys from the trigger; once the
    transaction has committed, a task runs item_search_text_fill for them."""
    if connection.vendor != "postgresql":
        yield  # SQLite has no trigger: search scans the items there
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [DEFERRED_SETTING])
    from ..tasks import fill_search_text  # the task module imports the services

    transaction.on_commit(lambda: fill_search_text.delay(import_job_id=import_job_id))
    yield
    # Not in a finally: after an error the transaction (or savepoint) is rolled back, which
    # undoes the setting with it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [DEFERRED_SETTING])


def item_search_text_fill(*, import_job_id: int | None = None) -> int:
    """Write the search keys of the items that have none: those of one import (whose job's
    report then says when they became searchable), or all. Returns how many items got keys.
    Idempotent; an item whose text changes meanwhile keeps the keys the trigger wrote for
    its new text."""
    if connection.vendor != "postgresql":
        return 0
    started = time.monotonic()
    filled = _fill_missing(import_job_id=import_job_id)
    if import_job_id is not None:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=import_job_id).first()
            if job is not None:
                job.report = {
                    **job.report,
                    "searchable_at": timezone.now().isoformat(),
                    "search_seconds": round(time.monotonic() - started, 3),
                }
                job.save(update_fields=["report", "updated_at"])
    return filled


def _fill_missing(*, import_job_id: int | None) -> int:
    missing = Item.objects.filter(search_text__isnull=True)
    if import_job_id is not None:
        missing = missing.filter(import_job_id=import_job_id)
    ids = list(missing.order_by("pk").values_list("pk", flat=True))
    unmerged = 0
    for start in range(0, len(ids), FILL_BATCH_SIZE):
        batch = ids[start : start + FILL_BATCH_SIZE]
        _fill(batch)
        unmerged += len(batch)
        if unmerged >= MERGE_EVERY:
            _merge_pending_keys()
            unmerged = 0
    if unmerged:
        _merge_pending_keys()
    return len(ids)


@transaction.atomic
def _merge_pending_keys() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [MERGE_MEMORY])
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [INDEX_NAME])


@transaction.atomic
def _fill(ids: list[int]) -> None:
    table = ItemSearchText._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('gin_pending_list_limit', %s, true)", [PENDING_LIST_LIMIT]
        )
        cursor.execute(
            f"SELECT id, {SEARCH_TEXT_SQL.format(t='')} FROM {Item._meta.db_table} "
            "WHERE id = ANY(%s)",
            [ids],
        )
        rows = cursor.fetchall()
        if not rows:
            return
        item_ids = [row[0] for row in rows]
        keys = search_keys([row[1] for row in rows])
        # Staged first: a row the trigger wrote meanwhile (the text changed) is kept.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS vad_search_staging "
            "(item_id int8, keys int4[]) ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy("COPY vad_search_staging FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"".join(_binary_copy(item_ids, keys)))
        cursor.execute(
            f"INSERT INTO {table} (item_id, keys) SELECT s.item_id, s.keys "
            f"FROM vad_search_staging s JOIN {Item._meta.db_table} i ON i.id = s.item_id "
            "ON CONFLICT (item_id) DO NOTHING"
        )


def _binary_copy(item_ids: Iterable[int], keys: Iterable[np.ndarray]) -> Iterator[bytes]:
    """COPY's binary format for rows (int8, int4[]), built here rather than by psycopg's
    row writer: 0.22 s against 0.82 s for 5,000 rows of 230 keys (the array dumper
    handles each element in Python's objects)."""
    yield b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    for item_id, row_keys in zip(item_ids, keys, strict=True):
        n = len(row_keys)
        # Per row: 2 fields; int8; int4[] = ndim 1, no nulls, oid 23, n elements from 1,
        # then (length 4, value) per element.
        yield struct.pack(">hiqi5i", 2, 8, item_id, 20 + 8 * n, 1, 0, 23, n, 1)
        elements = np.empty((n, 2), dtype=">i4")
        elements[:, 0] = 4
        elements[:, 1] = row_keys
        yield elements.tobytes()
    yield struct.pack(">h", -1)
