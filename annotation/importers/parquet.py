"""Read the records of a Parquet file (RecordStream's 'parquet' kind) in bounded memory.

Parquet compresses well enough that a 30 KB file can hold 800 MB of text (40 rows of 20 MB
strings, zstd), and a 1 KB file 4 GB (one 1 MB string in a dictionary, referred to by 4,000
rows: the metadata then gives 1 MB). Decompressing that, or converting it to Python, would
take gigabytes. So:
- before anything is decompressed, a row group whose uncompressed size, as the file's
  metadata gives it, is over `max_row_group_bytes` refuses the file (a column chunk's pages
  may be decompressed whole, so smaller batches would not help);
- batches hold about BATCH_BYTES as stored (at most BATCH_ROWS rows), sized from the row
  group's average row, and text columns stored with a dictionary stay dictionary-encoded in
  Arrow, so a batch never holds a repeated value more than once;
- a row larger than `max_record_bytes` (its strings, binary values and fixed-width values
  as decoded) becomes a RowError naming its largest column, without being converted to
  Python, as an over-long JSON line does;
- a file whose rows, as they are converted to Python, add up to more than MAX_EXPANSION
  times its size (and more than `max_row_group_bytes`) is refused as a decompression bomb:
  real datasets decode to a few times their size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import RowError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .reader import Record, RecordStream

BATCH_ROWS = 2048
BATCH_BYTES = 32 * 1024 * 1024
MAX_EXPANSION = 100
# Read the file through a buffer of this size instead of a column chunk at a time.
_READ_BUFFER = 1 << 20


def parquet_records(stream: RecordStream) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(stream.path).metadata
        parquet = pq.ParquetFile(
            stream.path,
            buffer_size=_READ_BUFFER,
            read_dictionary=_dictionary_text_columns(metadata),
        )
        stream._rows_total = metadata.num_rows
        budget = _DecodeBudget(stream)
        first_row = 1
        for index in range(metadata.num_row_groups):
            group = metadata.row_group(index)
            size = _uncompressed_bytes(group)
            _check_row_group(stream, group, index=index, first_row=first_row, size=size)
            rows = max(1, min(BATCH_ROWS, BATCH_BYTES * group.num_rows // max(size, 1)))
            row = first_row
            for batch in parquet.iter_batches(batch_size=rows, row_groups=[index]):
                for record in _batch_records(stream, batch, budget, first_row=row):
                    stream._rows_done += 1
                    yield stream._rows_done, record
                row += batch.num_rows
            first_row += group.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise stream.fail(0, f"not a readable Parquet file: {exc}") from None


class _DecodeBudget:
    """The bytes of rows converted to Python so far, against the file's size."""

    def __init__(self, stream: RecordStream) -> None:
        self.stream = stream
        self.limit = max(stream.max_row_group_bytes, MAX_EXPANSION * stream.size)
        self.used = 0

    def spend(self, size: int, *, row: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise self.stream.unreadable(
                RowError(
                    path=self.stream.name,
                    line=row,
                    field="",
                    message=(
                        f"the rows up to here decode to more than {self.limit:,} bytes, over "
                        f"{MAX_EXPANSION} times the file's {self.stream.size:,} bytes (and "
                        "over VAD_IMPORT_MAX_ROW_GROUP_BYTES): refused as a decompression bomb"
                    ),
                )
            )


def _dictionary_text_columns(metadata: pq.FileMetaData) -> list[str]:
    """Top-level text columns stored with a dictionary page in some row group."""
    import pyarrow as pa

    stored = {
        group.column(j).path_in_schema
        for group in map(metadata.row_group, range(metadata.num_row_groups))
        for j in range(group.num_columns)
        if group.column(j).has_dictionary_page
    }
    return [
        field.name
        for field in metadata.schema.to_arrow_schema()
        if field.name in stored and (pa.types.is_string(field.type) or _is_binary(field.type))
    ]


def _uncompressed_bytes(group: pq.RowGroupMetaData) -> int:
    """The row group's size decompressed, as its metadata states it (the larger of the
    group's total and the sum of its column chunks, should a writer fill in only one)."""
    columns = sum(max(group.column(j).total_uncompressed_size, 0) for j in range(group.num_columns))
    return max(group.total_byte_size, columns)


def _check_row_group(
    stream: RecordStream, group: pq.RowGroupMetaData, *, index: int, first_row: int, size: int
) -> None:
    limit = stream.max_row_group_bytes
    if size <= limit:
        return
    largest = max(range(group.num_columns), key=lambda j: group.column(j).total_uncompressed_size)
    last_row = first_row + group.num_rows - 1
    raise stream.unreadable(
        RowError(
            path=stream.name,
            line=first_row,
            field=group.column(largest).path_in_schema,
            message=(
                f"row group {index + 1} (rows {first_row}-{last_row}) holds {size:,} bytes "
                f"uncompressed, over the limit of {limit:,} bytes "
                "(VAD_IMPORT_MAX_ROW_GROUP_BYTES); most of it is in this column. Write the "
                "file with smaller row groups, or raise the limit if the rows are genuine"
            ),
        )
    )


def _batch_records(
    stream: RecordStream, batch: pa.RecordBatch, budget: _DecodeBudget, *, first_row: int
) -> Iterator[dict | RowError]:
    limit = stream.max_record_bytes
    batch_bytes = sum(map(_column_decoded_bytes, batch.columns))
    if batch_bytes <= min(limit, BATCH_BYTES):  # no row can be over the limit: the common case
        budget.spend(batch_bytes, row=first_row)
        yield from _dense(batch).to_pylist()
        return
    columns = [_column_row_bytes(column) for column in batch.columns]
    names = batch.schema.names
    for offset in range(batch.num_rows):
        row_sizes = [sizes[offset] for sizes in columns]
        if sum(row_sizes) > limit:
            largest = max(range(len(names)), key=row_sizes.__getitem__)
            yield RowError(
                path=stream.name,
                line=first_row + offset,
                field=names[largest],
                message=stream.too_large_message(),
            )
        else:  # one at a time: a batch of large rows is never all in Python at once
            budget.spend(sum(row_sizes), row=first_row + offset)
            yield batch.slice(offset, 1).to_pylist()[0]


def _dense(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its dictionary columns decoded: converting those to Python is three
    times slower than decoding them first (its size was checked before)."""
    import pyarrow as pa

    if not any(pa.types.is_dictionary(column.type) for column in batch.columns):
        return batch
    columns = [
        column.dictionary_decode() if pa.types.is_dictionary(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _column_decoded_bytes(column: pa.Array) -> int:
    """The bytes `column` takes once decoded (a dictionary's values counted once per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        lengths = pc.binary_length(column.dictionary)
        return (pc.sum(pc.take(lengths, column.indices)).as_py() or 0) + column.indices.nbytes
    return column.nbytes


def _column_row_bytes(column: pa.Array) -> list[int]:
    """The bytes each row of `column` holds once decoded (a null counts 0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or _is_binary(kind):
        return pc.binary_length(column).fill_null(0).to_pylist()
    if pa.types.is_dictionary(kind):
        lengths = pc.binary_length(column.dictionary).fill_null(0)
        return pc.take(lengths, column.indices).fill_null(0).to_pylist()
    try:
        width = kind.bit_width // 8
    except ValueError:  # nested or variable-width: measured row by row (small as stored)
        return [column.slice(offset, 1).nbytes for offset in range(len(column))]
    return [max(width, 1)] * len(column)


def _is_binary(kind) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary_view(kind)
    )
