"""Read the records of a Parquet file (RecordStream's 'parquet' kind) in bounded memory.

Parquet compresses well enough that a 30 KB file can hold 800 MB of text (40 rows of 20 MB
strings, zstd), and decompressing a row group, or converting a large batch to Python, would
take gigabytes. So, before anything is decompressed:
- a row group whose uncompressed size, as the file's metadata gives it, is over
  `max_row_group_bytes` refuses the file (a column chunk's pages may be decompressed whole,
  so smaller batches would not help);
- batches hold about BATCH_BYTES of data (at most BATCH_ROWS rows), sized from the row
  group's average row;
and a row larger than `max_record_bytes` (its strings, binary values and fixed-width
values, as Arrow holds them) becomes a RowError naming its largest column, without being
converted to Python, as an over-long JSON line does.
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
# Read the file through a buffer of this size instead of a column chunk at a time.
_READ_BUFFER = 1 << 20


def parquet_records(stream: RecordStream) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream.path, buffer_size=_READ_BUFFER)
        metadata = parquet.metadata
        stream._rows_total = metadata.num_rows
        first_row = 1
        for index in range(metadata.num_row_groups):
            group = metadata.row_group(index)
            size = _uncompressed_bytes(group)
            _check_row_group(stream, group, index=index, first_row=first_row, size=size)
            rows = max(1, min(BATCH_ROWS, BATCH_BYTES * group.num_rows // max(size, 1)))
            row = first_row
            for batch in parquet.iter_batches(batch_size=rows, row_groups=[index]):
                for record in _batch_records(stream, batch, first_row=row):
                    stream._rows_done += 1
                    yield stream._rows_done, record
                row += batch.num_rows
            first_row += group.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise stream.fail(0, f"not a readable Parquet file: {exc}") from None


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
    stream: RecordStream, batch: pa.RecordBatch, *, first_row: int
) -> Iterator[dict | RowError]:
    limit = stream.max_record_bytes
    if batch.nbytes <= limit:  # no row can be over the limit: the common case
        yield from batch.to_pylist()
        return
    sizes = [_column_row_bytes(column) for column in batch.columns]
    names = batch.schema.names
    for offset in range(batch.num_rows):
        row_sizes = [column_sizes[offset] for column_sizes in sizes]
        if sum(row_sizes) > limit:
            largest = max(range(len(names)), key=row_sizes.__getitem__)
            yield RowError(
                path=stream.name,
                line=first_row + offset,
                field=names[largest],
                message=stream.too_large_message(),
            )
        else:
            yield batch.slice(offset, 1).to_pylist()[0]


def _column_row_bytes(column: pa.Array) -> list[int]:
    """The bytes each row of `column` holds in Arrow (a null counts 0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or _is_large_or_view(kind):
        return pc.binary_length(column).fill_null(0).to_pylist()
    if pa.types.is_dictionary(kind):
        lengths = _column_row_bytes(column.dictionary)
        return [0 if i is None else lengths[i] for i in column.indices.to_pylist()]
    try:
        width = kind.bit_width // 8
    except ValueError:  # nested or variable-width: measured row by row (rare, small)
        return [column.slice(offset, 1).nbytes for offset in range(len(column))]
    return [width] * len(column)


def _is_large_or_view(kind) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_large_string(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary_view(kind)
    )
