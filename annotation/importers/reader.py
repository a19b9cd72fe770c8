"""Stream the records of an import file: JSON lines, a JSON array, or Parquet.

Files can be hundreds of megabytes, so nothing here holds a whole file in memory: JSON lines
are read line by line (each line capped), a JSON array is decoded one element at a time from
a buffer that grows only as far as the current element (json_array.py), and Parquet is read
in batches of bounded size after its row groups' sizes are checked (parquet.py).

Two kinds of problems:
- a bad record (malformed JSON line, a line over the size cap, an element that is not an
  object) is yielded in place of the record as a RowError, so `--skip-invalid` can go on;
- a file that cannot be read as a whole (wrong encoding, binary data, empty, a JSON array
  broken mid-way, a damaged Parquet file) raises UnreadableFile: no row after it can be
  trusted, so no option skips it.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import RowError
from .base import json_type
from .json_array import ArrayParser, too_deep_message
from .parquet import parquet_records

try:
    from orjson import loads as _loads
except ImportError:  # the pure-Python parser gives the same results, only slower
    _loads = json.loads

PARQUET_MAGIC = b"PAR1"
_READ_CHUNK = 1 << 20
_SNIFF_BYTES = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)

# A record as yielded: (line where it starts, the parsed object or the RowError saying why
# that record cannot be used). The object is a dict, or what the line decoder made of a JSON
# line. Parquet rows count as lines, 1-based.
Record = tuple[int, Any]

UTF8_ADVICE = "save the file as UTF-8 (without a byte order mark, or with the UTF-8 one)"


class UnreadableFile(Exception):
    """The file as a whole cannot be imported; `error` says where and why."""

    def __init__(self, error: RowError) -> None:
        self.error = error
        super().__init__(str(error))


class RecordStream:
    """Iterate over (line, record) of one file; `kind` is 'jsonl', 'json' or 'parquet'.

    The kind is decided when the stream is created, so a file that is empty, binary or in
    the wrong encoding fails before any row is read.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        display_name: str | None = None,
        max_record_bytes: int,
        max_row_group_bytes: int | None = None,
        line_decoder: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = display_name or str(path)
        self.max_record_bytes = max_record_bytes
        if max_row_group_bytes is None:
            from django.conf import settings

            max_row_group_bytes = settings.VAD_IMPORT_MAX_ROW_GROUP_BYTES
        # Parquet only: the largest row group (uncompressed, from the file's metadata).
        self.max_row_group_bytes = max_row_group_bytes
        # JSON lines only: tried first on each line; None from it means "parse as a dict".
        self.line_decoder = line_decoder
        self.size = self.path.stat().st_size
        self._bytes_done = 0
        self._rows_done = 0
        self._rows_total = 0
        self.kind, self._start = self._sniff()

    def position(self) -> int:
        """Bytes of the file consumed so far (estimated for Parquet), for progress bars."""
        if self.kind == "parquet":
            return self.size * self._rows_done // max(self._rows_total, 1)
        return min(self._bytes_done, self.size)

    def __iter__(self) -> Iterator[Record]:
        if self.kind == "parquet":
            return parquet_records(self)
        if self.kind == "json":
            return self._array_records()
        return self._line_records()

    # Errors, shared with the JSON array and Parquet readers.

    def fail(self, line: int, message: str) -> UnreadableFile:
        return UnreadableFile(RowError(path=self.name, line=line, field="", message=message))

    @staticmethod
    def unreadable(error: RowError) -> UnreadableFile:
        return UnreadableFile(error)

    # Deciding what the file is.

    def _sniff(self) -> tuple[str, int]:
        with self.path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
            if head.startswith(PARQUET_MAGIC):
                return "parquet", 0
            for bom, encoding in _FOREIGN_BOMS:
                if head.startswith(bom):
                    raise self.fail(
                        1,
                        f"the file is {encoding}-encoded (it starts with a {encoding} byte "
                        f"order mark); {UTF8_ADVICE}",
                    )
            start = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
            if b"\x00" in head:
                line = head.count(b"\n", 0, head.index(b"\x00")) + 1
                raise self.fail(line, self.binary_message())
            first, line = self._first_character(f, head, start)
        if first is None:
            raise self.fail(0, "the file is empty (no records)")
        if first == ord("["):
            return "json", start
        if first == ord("{"):
            return "jsonl", start
        self._check_utf8(head[start:])
        shown = repr(chr(first)) if 32 < first < 127 else f"byte 0x{first:02X}"
        raise self.fail(
            line,
            f"starts with {shown}: expected '[' (a JSON array of records) or '{{' "
            "(JSON lines, one record per line)",
        )

    @staticmethod
    def _first_character(f: BinaryIO, head: bytes, start: int) -> tuple[int | None, int]:
        """The first non-whitespace byte and its line; (None, n) for a blank file."""
        line = 1
        chunk, offset = head, start
        while chunk:
            stripped = chunk[offset:].lstrip(b" \t\r\n")
            if stripped:
                consumed = len(chunk) - len(stripped)
                return stripped[0], line + chunk.count(b"\n", offset, consumed)
            line += chunk.count(b"\n", offset)
            chunk, offset = f.read(_READ_CHUNK), 0
        return None, line

    def _check_utf8(self, data: bytes, *, first_line: int = 1) -> None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                return  # a character cut by the end of the sniffed bytes, not an error
            raise self.encoding_error(data, exc, first_line=first_line) from None

    def encoding_error(
        self, data: bytes, exc: UnicodeDecodeError, *, first_line: int
    ) -> UnreadableFile:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex().upper()
        return self.fail(
            line,
            f"not valid UTF-8 (byte 0x{bad} at column {column}); the file is probably in "
            f"another encoding such as GBK: {UTF8_ADVICE}",
        )

    # JSON lines.

    def _line_records(self) -> Iterator[Record]:
        limit, decode = self.max_record_bytes, self.line_decoder
        with self.path.open("rb", buffering=_READ_CHUNK) as f:
            f.seek(self._start)
            line = 0
            while True:
                raw = f.readline(limit + 1)
                if not raw:
                    break
                line += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    _skip_rest_of_line(f)
                    self._bytes_done = f.tell()
                    yield line, self.too_large(line)
                    continue
                self._bytes_done += len(raw)
                if raw.isspace():
                    continue
                if b"\x00" in raw:
                    raise self.fail(line, self.binary_message())
                if decode is not None and (decoded := decode(raw)) is not None:
                    yield line, decoded
                    continue
                try:
                    value = _loads(raw)
                except (ValueError, RecursionError) as exc:
                    yield line, self._malformed_line(raw, line, exc)
                    continue
                yield line, value if isinstance(value, dict) else self.not_an_object(line, value)

    def _malformed_line(self, raw: bytes, line: int, exc: ValueError | RecursionError) -> RowError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            raise self.encoding_error(raw, decode_error, first_line=line) from None
        if isinstance(exc, RecursionError) or "depth limit" in str(exc):
            detail = too_deep_message()
        elif isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} at column {exc.colno}"
        else:
            detail = str(exc)
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=f"malformed JSON ({detail}); JSON lines need one complete object per line",
        )

    def too_large(self, line: int) -> RowError:
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=self.too_large_message(),
        )

    def too_large_message(self) -> str:
        return (
            f"record is longer than the limit of {self.max_record_bytes} bytes "
            "(VAD_IMPORT_MAX_RECORD_BYTES)"
        )

    def not_an_object(self, line: int, value: Any) -> RowError:
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=f"each record must be a JSON object, not {json_type(value)}",
        )

    # A JSON array.

    def _array_records(self) -> Iterator[Record]:
        with self.path.open("rb") as f:
            f.seek(self._start)
            self._bytes_done = self._start
            yield from ArrayParser(self, f).records()

    @staticmethod
    def binary_message() -> str:
        return (
            "binary data (a NUL byte): this is not a UTF-8 JSON text file (a UTF-16 file "
            f"without a byte order mark looks like this too); {UTF8_ADVICE}"
        )


def _skip_rest_of_line(f: BinaryIO) -> None:
    while True:
        more = f.readline(_READ_CHUNK)
        if not more or more.endswith(b"\n"):
            return
